"""`containerguard profile seccomp CONTAINER -o FILE`: a seccomp profile from what the container was seen to use."""

from __future__ import annotations

import json
import os
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
    startup: Annotated[bool, typer.Option(
        "--startup/--no-startup", help="Also observe a twin of the container (same image, command, environment) "
        "started during the trace, so start-up syscalls are in the profile")] = True,
    docker_host: Annotated[str | None, typer.Option("--docker-host", help="Engine URL (default: DOCKER_HOST)")] = None,
) -> None:
    """Observe CONTAINER's syscalls for --duration seconds and write a profile allowing exactly those (plus what
    the runtime needs to start it); every other syscall fails with EPERM. Needs root and bpftrace."""
    import contextlib

    import docker

    from containerguard.runtime.baseline.seccomp import named, observe, seccomp_profile, start_twin
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
    namespaces = {mntns}
    twins: list[str] = []

    def ready() -> None:
        print(f"tracing {name} for {duration} s: exercise it now", file=sys.stderr, flush=True)
        if startup:
            twin = start_twin(client.api, info, f"{name}-cg-profile-{os.getpid()}")
            twins.append(twin)
            twin_pid = int(client.api.inspect_container(twin)["State"].get("Pid") or 0)
            if twin_pid:
                namespaces.add(ns_inode(twin_pid))

    try:
        counts = observe(duration, on_ready=ready)
    finally:
        for twin in twins:
            with contextlib.suppress(Exception):
                client.api.remove_container(twin, force=True)
    seen = named(counts.get(ns, {}) for ns in namespaces)
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
