"""`containerguard profile seccomp CONTAINER -o FILE`: a seccomp profile from what the container was seen to use."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from containerguard.errors import BaselineError, UsageError

profile_app = typer.Typer(help="Profiles learned from what workloads do.", no_args_is_help=True)


@profile_app.command("seccomp")
def seccomp(
    container: Annotated[str, typer.Argument(help="Running container (name or id) to observe")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the profile (Docker/OCI JSON)")],
    duration: Annotated[int, typer.Option("--duration", "-d", min=1, max=86400,
                                          help="Seconds to observe the container; exercise it meanwhile")] = 30,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-run the container's image and command with the profile and check it keeps running")] = False,
    docker_host: Annotated[str | None, typer.Option("--docker-host", help="Engine URL (default: DOCKER_HOST)")] = None,
) -> None:
    """Observe CONTAINER's syscalls for --duration seconds and write a profile allowing exactly those (plus what
    the runtime needs to start it); every other syscall fails with EPERM. Needs root and bpftrace."""
    import docker

    from containerguard.runtime.baseline.seccomp import observe, seccomp_profile
    from containerguard.runtime.baseline.seccomp import verify as verify_profile
    from containerguard.runtime.containers import ns_inode

    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        info = client.api.inspect_container(container)
    except docker.errors.NotFound:
        raise UsageError(f"no such container: {container}") from None
    except docker.errors.DockerException as exc:
        raise UsageError(f"cannot use the Docker Engine: {str(exc).splitlines()[0]}") from None
    pid = int((info.get("State") or {}).get("Pid") or 0)
    mntns = ns_inode(pid) if pid else 0
    if not mntns:
        raise UsageError(f"{container} is not running")
    name = str(info.get("Name", container)).lstrip("/")
    print(f"tracing {name} for {duration} s: exercise it now", file=sys.stderr, flush=True)
    seen = observe(mntns, duration, on_ready=lambda: print("ready", file=sys.stderr, flush=True))
    profile = seccomp_profile(seen)
    try:
        output.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    allowed = len(profile["syscalls"][0]["names"])
    print(f"{output}: {len(seen)} syscalls observed, {allowed} allowed; the rest fail with EPERM",
          file=sys.stderr, flush=True)
    if verify:
        ok, what = verify_profile(client.api, info, profile)
        print(f"verify: {what}", file=sys.stderr, flush=True)
        if not ok:
            raise BaselineError(f"the profile does not let {name} run: {what}")
