"""`containerguard user create|list|disable`: people who log in to the web console by name and password."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from containerguard.cli._client import Client
from containerguard.errors import UsageError

app = typer.Typer(help="Manage the web console's users (name + password; admin token needed).", no_args_is_help=True)

ServerOpt = Annotated[str | None, typer.Option("--server", help="Server URL (env CONTAINERGUARD_SERVER)")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Admin token (env CONTAINERGUARD_TOKEN)")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The user name to log in with")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line "
                                                 "of standard input (for scripts)")] = False,
    server: ServerOpt = None, token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Create a user; the password is asked for (twice) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise UsageError("empty password")
    with Client(server, token) as c:
        out = c.request("POST", "/users", json={"name": name, "role": role, "password": password})
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(f"created user {out['name']} ({out['role']})")


@app.command("list")
def list_(server: ServerOpt = None, token: TokenOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """List users (never their password hashes)."""
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    with Client(server, token) as c:
        rows = c.request("GET", "/users")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(f"{len(rows)} users", ["id", Column("name", 2), "role", "created", Column("by", 1), "disabled"],
                [[r["id"], r["name"], r["role"], r["created_at"][:19], r["created_by"], (r["disabled_at"] or "")[:19]]
                 for r in rows])


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="The user to disable")],
            server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Disable a user: their console sessions end at once."""
    with Client(server, token) as c:
        out = c.request("DELETE", f"/users/{name}")
    typer.echo(f"disabled user {out['name']}")
