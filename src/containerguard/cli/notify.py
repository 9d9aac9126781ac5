"""`containerguard notify add|update|list|remove|enable|disable|test|deliveries|retry`: notification targets on the
central server (admin token to change them; viewers may list)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from containerguard.cli._client import Client
from containerguard.cli._output import print_table
from containerguard.report.terminal import Column

app = typer.Typer(help="Manage the central server's notification targets (webhook, Slack, syslog CEF).",
                  no_args_is_help=True)

ServerOpt = Annotated[str | None, typer.Option("--server", help="Server URL (env CONTAINERGUARD_SERVER)")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Token (env CONTAINERGUARD_TOKEN)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="notify")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for the target")],
    url: Annotated[str, typer.Argument(help="https://... (webhook, slack) or udp://HOST:PORT / tcp://HOST:PORT (syslog)")],
    kind: Annotated[str, typer.Option("--kind", help="webhook (JSON), slack (incoming webhook) or syslog (CEF)")] = "webhook",
    event: Annotated[list[str] | None, typer.Option("--event", help="Event type to send (repeatable; default all): "
                                                    "new_finding, new_kev_finding, runtime_alert, scan_failed, "
                                                    "image_scanned, policy_violation")] = None,
    min_severity: Annotated[str, typer.Option("--min-severity", help="Findings from this severity up")] = "unknown",
    min_priority: Annotated[str, typer.Option("--min-priority", help="Runtime alerts from this priority up")] = "debug",
    running_only: Annotated[bool, typer.Option("--running-only", help="Finding events only for images running on "
                                               "a host")] = False,
    server: ServerOpt = None, token: TokenOpt = None, as_json: JsonOpt = False,
) -> None:
    """Add a target and its rule. Webhook URLs are stored encrypted (the server needs CONTAINERGUARD_SECRET_KEY)."""
    body = {"name": name, "kind": kind, "url": url, "event_types": list(event or []), "min_severity": min_severity,
            "min_priority": min_priority, "running_only": running_only}
    with Client(server, token) as c:
        out = c.request("POST", "/notifications/targets", json=body)
    typer.echo(json.dumps(out, indent=2) if as_json else f"added notification target {out['id']} ({out['name']})")


@app.command("update")
def update(
    target_id: Annotated[int, typer.Argument(help="Target id (see `notify list`)")],
    name: Annotated[str | None, typer.Option("--name", help="A new name")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="webhook, slack or syslog (syslog <-> the others: give --url)")] = None,
    url: Annotated[str | None, typer.Option("--url", help="A new URL (left out: the stored one is kept)")] = None,
    event: Annotated[list[str] | None, typer.Option("--event", help="Event type (repeatable; replaces the stored list)")] = None,
    all_events: Annotated[bool, typer.Option("--all-events", help="Send every event type")] = False,
    min_severity: Annotated[str | None, typer.Option("--min-severity", help="Findings from this severity up")] = None,
    min_priority: Annotated[str | None, typer.Option("--min-priority", help="Runtime alerts from this priority up")] = None,
    running_only: Annotated[bool | None, typer.Option("--running-only/--all-images",
                                                      help="Finding events only for running images, or for all")] = None,
    server: ServerOpt = None, token: TokenOpt = None, as_json: JsonOpt = False,
) -> None:
    """Change a target and its rule: only the options given change."""
    from containerguard.errors import UsageError

    if event and all_events:
        raise UsageError("--event and --all-events: one or the other")
    body: dict[str, object] = {k: v for k, v in (("name", name), ("kind", kind), ("url", url),
                                                 ("min_severity", min_severity), ("min_priority", min_priority),
                                                 ("running_only", running_only)) if v is not None}
    if event or all_events:
        body["event_types"] = list(event or [])
    if not body:
        raise UsageError("nothing to change: give at least one option (see --help)")
    with Client(server, token) as c:
        out = c.request("PATCH", f"/notifications/targets/{target_id}", json=body)
    typer.echo(json.dumps(out, indent=2) if as_json else
               f"updated notification target {out['id']} ({out['name']}): {', '.join(out['changed']) or 'nothing'} changed")


@app.command("list")
def list_(server: ServerOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List targets (URLs redacted) with their delivery counts."""
    with Client(server, token) as c:
        rows = c.request("GET", "/notifications/targets")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(f"{len(rows)} notification targets",
                ["id", Column("name", 1), "kind", Column("url", 2), Column("events", 2), "min severity", "min priority",
                 "running only", "enabled", Column("sent", right=True), Column("pending", right=True),
                 Column("dead", right=True)],
                [[r["id"], r["name"], r["kind"], r["url"], ", ".join(r["event_types"]) or "all", r["min_severity"],
                  r["min_priority"], "yes" if r["running_only"] else "no", "yes" if r["enabled"] else "no",
                  r["deliveries"].get("sent", 0), r["deliveries"].get("pending", 0), r["deliveries"].get("dead", 0)]
                 for r in rows])


@app.command("remove")
def remove(target_id: Annotated[int, typer.Argument(help="Target id (see `notify list`)")],
           server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Remove a target and its queued deliveries."""
    with Client(server, token) as c:
        out = c.request("DELETE", f"/notifications/targets/{target_id}")
    typer.echo(f"removed notification target {out['id']} ({out['name']})")


def _enabled(target_id: int, enabled: bool, server: str | None, token: str | None) -> None:
    with Client(server, token) as c:
        out = c.request("PUT", f"/notifications/targets/{target_id}/enabled", json={"enabled": enabled})
    typer.echo(f"{'enabled' if enabled else 'disabled'} notification target {out['id']} ({out['name']})")


@app.command("enable")
def enable(target_id: Annotated[int, typer.Argument(help="Target id")], server: ServerOpt = None,
           token: TokenOpt = None) -> None:
    """Enable a target."""
    _enabled(target_id, True, server, token)


@app.command("disable")
def disable(target_id: Annotated[int, typer.Argument(help="Target id")], server: ServerOpt = None,
            token: TokenOpt = None) -> None:
    """Disable a target (no new deliveries are queued for it)."""
    _enabled(target_id, False, server, token)


@app.command("test")
def test(target_id: Annotated[int, typer.Argument(help="Target id")], server: ServerOpt = None,
         token: TokenOpt = None) -> None:
    """Queue a test notification to one target; see `notify deliveries` for the outcome."""
    with Client(server, token) as c:
        out = c.request("POST", f"/notifications/targets/{target_id}/test")
    typer.echo(f"queued test delivery {out['delivery_id']}")


@app.command("deliveries")
def deliveries(
    status: Annotated[str | None, typer.Option("--status", help="pending, sent or dead (the dead letters)")] = None,
    target_id: Annotated[int | None, typer.Option("--target", help="Only this target's")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    server: ServerOpt = None, token: TokenOpt = None, as_json: JsonOpt = False,
) -> None:
    """Deliveries, newest first."""
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if target_id is not None:
        params["target_id"] = target_id
    with Client(server, token) as c:
        rows = c.request("GET", "/notifications/deliveries", params=params)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(f"{len(rows)} deliveries",
                ["id", Column("target", 1), Column("event", 2), "status", Column("attempts", right=True),
                 Column("last error", 3)],
                [[r["id"], r["target"]["name"], f"{r['event']['type']}: {r['event']['summary']}", r["status"],
                  r["attempts"], r["last_error"]] for r in rows])


@app.command("retry")
def retry(delivery_id: Annotated[int, typer.Argument(help="Delivery id (see `notify deliveries --status dead`)")],
          server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Send a dead delivery again."""
    with Client(server, token) as c:
        out = c.request("POST", f"/notifications/deliveries/{delivery_id}/retry")
    typer.echo(f"delivery {out['delivery_id']} queued again")
