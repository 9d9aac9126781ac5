"""What the enforcement points' commands share (`admission serve`, `authz serve`, `agent --policy`): their
``--server``/``--token`` reporting of decisions and ``--policy-from-server``, as options and as wiring."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from containerguard.errors import UsageError

if TYPE_CHECKING:
    from containerguard.policy.loader import LivePolicies
    from containerguard.policy.remote import ServerPolicies
    from containerguard.policy.reporting import DecisionReporter

ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="Central server URL: report every deny/warn decision to it, and count allowed ones "
    "(env CONTAINERGUARD_SERVER). A server outage never delays or changes a decision: decisions wait in --spool-dir.")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="An enforcer token for --server (env CONTAINERGUARD_TOKEN)")]
SpoolOpt = Annotated[Path | None, typer.Option(
    "--spool-dir", help="Where decisions wait while the server is unreachable (default: the user's data dir)")]
FromServerOpt = Annotated[bool, typer.Option(
    "--policy-from-server", help="Enforce the policy set held by --server (`policy push`), fetched at start and "
    "every --policy-refresh seconds; the last good set is kept on disk and stays in force while the server is down")]
RefreshOpt = Annotated[float, typer.Option("--policy-refresh", min=5.0, help="Seconds between fetches of "
                                           "the server's policy set")]


def server_and_token(server: str | None, token: str | None) -> tuple[str | None, str]:
    return server or os.environ.get("CONTAINERGUARD_SERVER") or None, token or os.environ.get("CONTAINERGUARD_TOKEN", "")


def reporter(server: str | None, token: str, spool_dir: Path | None, source: str,
             policies: LivePolicies | None, instance: str | None = None) -> DecisionReporter | None:
    """The decision reporter of an enforcement point (None without --server)."""
    if not server:
        return None
    import platformdirs

    from containerguard.policy.reporting import DecisionReporter

    spool = spool_dir or Path(platformdirs.user_data_dir("containerguard")) / f"{source}-spool"
    return DecisionReporter(server, token, spool, source=source, policies=policies, instance=instance)


def server_policies(server: str | None, token: str, live: LivePolicies, kind: str, refresh: float,
                    cache_dir: Path | None = None) -> ServerPolicies:
    """Start keeping ``live`` in step with the server's policy set (``--policy-from-server``)."""
    from containerguard.policy.remote import ServerPolicies, default_cache_dir

    if not server:
        raise UsageError("--policy-from-server needs --server URL (or CONTAINERGUARD_SERVER)")
    sp = ServerPolicies(server, token, cache_dir or default_cache_dir(kind), live, interval=refresh)
    sp.start()
    return sp
