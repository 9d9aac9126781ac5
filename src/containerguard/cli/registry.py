"""`containerguard registry add|list|remove|poll`: registries the central server watches (admin token)."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from containerguard.cli._client import Client
from containerguard.cli._output import print_table
from containerguard.report.terminal import Column

app = typer.Typer(help="Registries the central server watches (polling and push notifications).", no_args_is_help=True)

ServerOpt = Annotated[str | None, typer.Option("--server", help="Server URL (env CONTAINERGUARD_SERVER)")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Admin token (env CONTAINERGUARD_TOKEN)")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="registry")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name (also the notification URL's last part)")],
    url: Annotated[str, typer.Argument(help="https://HOST[:PORT] (http:// for a plain-HTTP registry)")],
    username: Annotated[str, typer.Option("--username", help="Registry user")] = "",
    password_env: Annotated[str | None, typer.Option(
        "--password-env", help="Name of the environment variable holding the password (never on the command line)")] = None,
    repository: Annotated[list[str] | None, typer.Option("--repository", help="Repository glob to watch (repeatable; default all)")] = None,
    interval: Annotated[int, typer.Option("--interval", help="Seconds between polls (0: notifications only)")] = 3600,
    webhook_secret_env: Annotated[str | None, typer.Option(
        "--webhook-secret-env", help="Environment variable holding the notifications' shared secret")] = None,
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    """Watch a registry. Point its notifications at SERVER/api/v1/registries/NAME/notifications with the header
    `Authorization: Bearer SECRET`."""
    from containerguard.errors import UsageError

    password = os.environ.get(password_env, "") if password_env else ""
    if password_env and not password:
        raise UsageError(f"environment variable {password_env} is empty or unset")
    secret = os.environ.get(webhook_secret_env, "") if webhook_secret_env else ""
    with Client(server, token) as c:
        out = c.request("POST", "/registries", json={"name": name, "url": url, "username": username, "password": password,
                                                     "repositories": list(repository or []), "interval": interval,
                                                     "webhook_secret": secret})
    typer.echo(f"watching {out['url']} as {out['name']} (notifications: {c.base}/api/v1/registries/{out['name']}/notifications)")


@app.command("list")
def list_(server: ServerOpt = None, token: TokenOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """List watched registries."""
    with Client(server, token) as c:
        rows = c.request("GET", "/registries")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(f"{len(rows)} registries",
                [Column("name", 1), Column("url", 2), Column("user", 1), Column("repositories", 3),
                 Column("interval", right=True), "last polled", Column("last error", 3)],
                [[r["name"], r["url"], r["username"], ", ".join(r["repositories"]) or "*", r["interval"],
                  (r["last_polled"] or "")[:19], r["last_error"]] for r in rows])


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Registry name")], server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Stop watching a registry (its images stay)."""
    with Client(server, token) as c:
        c.request("DELETE", f"/registries/{name}")
    typer.echo(f"removed {name}")


@app.command("poll")
def poll(name: Annotated[str, typer.Argument(help="Registry name")], server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Poll a registry now (catalog, tags, new digests)."""
    with Client(server, token) as c:
        c.request("POST", f"/registries/{name}/poll")
    typer.echo(f"poll of {name} queued")
