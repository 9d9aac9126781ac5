"""`containerguard authz serve`: the Docker Engine authorization plugin (deploy-stage policies)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from containerguard.cli._enforce import FromServerOpt, RefreshOpt, ServerOpt, SpoolOpt, TokenOpt
from containerguard.errors import UsageError

authz_app = typer.Typer(help="Docker Engine authorization plugin (deploy-stage policies on docker run/create/exec).",
                        no_args_is_help=True)

DEFAULT_SOCKET = Path("/run/docker/plugins/containerguard.sock")


@authz_app.command("serve")
def serve(
    socket: Annotated[Path, typer.Option("--socket", help="Unix socket to serve on; dockerd finds the plugin "
                                         "NAME at /run/docker/plugins/NAME.sock and is started with "
                                         "--authorization-plugin=NAME.")] = DEFAULT_SOCKET,
    policy: Annotated[list[Path] | None, typer.Option("--policy", "-p", help="Policy file or directory "
                                                      "(repeatable), on top of the default set.")] = None,
    no_defaults: Annotated[bool, typer.Option("--no-defaults", help="Leave the default policy set out.")] = False,
    fail_open: Annotated[bool, typer.Option("--fail-open/--fail-closed", help="When a create/exec cannot be "
                                            "evaluated (no body, internal error): allow it, or deny it.")] = False,
    warn_only: Annotated[bool, typer.Option("--warn-only", help="Never deny; log what would be denied.")] = False,
    docker_host: Annotated[str, typer.Option("--docker-host", help="The Engine API (unix:// socket) of the daemon "
                                             "served, to look up the container a --pid/--ipc/--network container:ID "
                                             "joins and a service's networks; '' for none (such requests are then "
                                             "undecidable when a policy depends on them).")] = "unix:///var/run/docker.sock",
    server: ServerOpt = None,
    token: TokenOpt = None,
    spool_dir: SpoolOpt = None,
    policy_from_server: FromServerOpt = False,
    policy_refresh: RefreshOpt = 60.0,
) -> None:
    """Serve the AuthZ plugin protocol (/Plugin.Activate, /AuthZPlugin.AuthZReq, /AuthZPlugin.AuthZRes)."""
    import logging

    import uvicorn

    from containerguard.cli import _enforce
    from containerguard.cli.policy import live
    from containerguard.policy.authz import AuthzConfig, create_app

    if docker_host and not docker_host.removeprefix("unix://").startswith("/"):
        raise UsageError(f"--docker-host {docker_host}: only a unix:// socket is supported")
    if socket.suffix != ".sock":
        raise UsageError(f"--socket {socket}: the daemon looks for NAME.sock")
    policies = live(policy, no_defaults)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    server, tok = _enforce.server_and_token(server, token)
    fetcher = _enforce.server_policies(server, tok, policies, "authz", policy_refresh) if policy_from_server else None
    rep = _enforce.reporter(server, tok, spool_dir, "authz", policies)
    ps = policies.current
    try:
        socket.parent.mkdir(parents=True, exist_ok=True)
        if socket.is_socket():
            socket.unlink()  # a stale socket of a previous run
        elif socket.exists():
            raise UsageError(f"--socket {socket}: exists and is not a socket")
    except OSError as exc:
        raise UsageError(f"--socket {socket}: {exc.strerror or exc}") from None
    print(f"containerguard authz plugin '{socket.stem}' on {socket} ({len(ps.policies)} policies, "
          f"fail-{'open' if fail_open else 'closed'}{', warn only' if warn_only else ''}"
          f"{', reporting to ' + str(server) if rep else ''})", file=sys.stderr, flush=True)
    # uvicorn re-raises SIGTERM once it has shut down: turn it into SystemExit so the socket is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    old = os.umask(0o077)  # only root (the daemon) talks to the plugin
    try:
        def status() -> dict[str, object]:
            return {**({"reporting": rep.status()} if rep else {}),
                    **({"server_policies": fetcher.status()} if fetcher else {})}

        uvicorn.run(create_app(policies, AuthzConfig(fail_open=fail_open, enforce=not warn_only,
                                                                docker_host=docker_host),
                               rep.record if rep else None, status), uds=str(socket), log_level="warning",
                    access_log=False)
    finally:
        os.umask(old)
        if socket.is_socket():
            socket.unlink()
        if fetcher is not None:
            fetcher.close()
        if rep is not None:
            rep.close()


def register(app: typer.Typer) -> None:
    app.add_typer(authz_app, name="authz")
