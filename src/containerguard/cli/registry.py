"""`containerguard registry add|update|list|remove|poll`: registries the central server watches (admin token)."""

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


def _secret(env: str | None, clear: bool, what: str) -> str | None:
    """A secret for an update: from the environment variable named, "" to remove it, None to keep it."""
    from containerguard.errors import UsageError

    if env and clear:
        raise UsageError(f"--{what}-env and --clear-{what}: one or the other")
    if clear:
        return ""
    if not env:
        return None
    value = os.environ.get(env, "")
    if not value:
        raise UsageError(f"environment variable {env} is empty or unset")
    return value


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Registry name")],
    url: Annotated[str | None, typer.Option("--url", help="https://HOST[:PORT] (http:// for a plain-HTTP registry)")] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="A new name (the notification URL changes with it)")] = None,
    username: Annotated[str | None, typer.Option("--username", help="Registry user")] = None,
    password_env: Annotated[str | None, typer.Option(
        "--password-env", help="Environment variable holding the new password (never on the command line)")] = None,
    clear_password: Annotated[bool, typer.Option("--clear-password", help="Remove the stored password")] = False,
    repository: Annotated[list[str] | None, typer.Option(
        "--repository", help="Repository glob to watch (repeatable; replaces the stored list)")] = None,
    all_repositories: Annotated[bool, typer.Option("--all-repositories", help="Watch every repository")] = False,
    interval: Annotated[int | None, typer.Option("--interval", help="Seconds between polls (0: notifications only)")] = None,
    webhook_secret_env: Annotated[str | None, typer.Option(
        "--webhook-secret-env", help="Environment variable holding the new notifications' shared secret")] = None,
    clear_webhook_secret: Annotated[bool, typer.Option("--clear-webhook-secret", help="Remove the shared secret")] = False,
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    """Change a registry: only the options given change; a secret not given is kept. A change of URL,
    credentials or repositories queues a poll."""
    from containerguard.errors import UsageError

    if repository and all_repositories:
        raise UsageError("--repository and --all-repositories: one or the other")
    body: dict[str, object] = {k: v for k, v in (("url", url), ("name", rename), ("username", username),
                                                 ("interval", interval)) if v is not None}
    if repository or all_repositories:
        body["repositories"] = list(repository or [])
    for key, value in (("password", _secret(password_env, clear_password, "password")),
                       ("webhook_secret", _secret(webhook_secret_env, clear_webhook_secret, "webhook-secret"))):
        if value is not None:
            body[key] = value
    if not body:
        raise UsageError("nothing to change: give at least one option (see --help)")
    with Client(server, token) as c:
        out = c.request("PATCH", f"/registries/{name}", json=body)
    changed = ", ".join(out["changed"]) or "nothing"
    typer.echo(f"updated {out['name']}: {changed} changed")


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
