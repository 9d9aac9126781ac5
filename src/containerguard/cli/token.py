"""`containerguard token create|list|revoke`: API tokens on the central server (admin token needed)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from containerguard.cli._client import Client
from containerguard.cli._output import print_table
from containerguard.report.terminal import Column

app = typer.Typer(help="Manage the central server's API tokens.", no_args_is_help=True)

ServerOpt = Annotated[str | None, typer.Option("--server", help="Server URL (env CONTAINERGUARD_SERVER)")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Admin token (env CONTAINERGUARD_TOKEN)")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="token")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the token (agent tokens: the host name)")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst, viewer, agent, ci or enforcer (admission webhook, Docker plugin)")] = "viewer",
    host: Annotated[str, typer.Option("--host", help="agent tokens: the host it reports for (default: NAME)")] = "",
    server: ServerOpt = None, token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Create a token; its secret is printed once."""
    with Client(server, token) as c:
        out = c.request("POST", "/tokens", json={"name": name, "role": role, "host": host})
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(out["token"])


@app.command("list")
def list_(server: ServerOpt = None, token: TokenOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """List tokens (never their secrets)."""
    with Client(server, token) as c:
        rows = c.request("GET", "/tokens")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(f"{len(rows)} tokens",
                ["id", Column("name", 2), "role", "prefix", Column("host", 1), "created", "last used", "revoked"],
                [[r["id"], r["name"], r["role"], r["prefix"], r["host"], r["created_at"][:19],
                  (r["last_used"] or "")[:19], (r["revoked_at"] or "")[:19]] for r in rows])


@app.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(help="Token id (see `token list`)")],
           server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Revoke a token: it stops working at once."""
    with Client(server, token) as c:
        out = c.request("DELETE", f"/tokens/{token_id}")
    typer.echo(f"revoked token {out['id']} ({out['name']})")
