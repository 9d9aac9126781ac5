"""`containerguard profile seccomp CONTAINER|IMAGE -o FILE`: a seccomp profile from what a workload was seen to use."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from containerguard.errors import BaselineError, UsageError

if TYPE_CHECKING:
    from containerguard.runtime.baseline.seccomp import Observation

profile_app = typer.Typer(help="Profiles learned from what workloads do.", no_args_is_help=True)


def _say(text: str) -> None:
    """One progress line on stderr; it may carry the container's own output (--verify), shown with control
    characters made visible."""
    from containerguard.report.terminal import clean

    print(clean(text, oneline=True), file=sys.stderr, flush=True)


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
#: a container name or id, an image id, or an image reference (distribution's grammar): what the Engine API takes
#: in a URL path; anything else (``../x``, spaces, control characters) is refused before it reaches a URL
_TARGET = re.compile(
    r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"  # a container name or id, or an image id (prefix)
    r"|sha256:[0-9a-f]{1,64}"
    rf"|(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")


def _check_target(target: str) -> None:
    if len(target) > 512 or not _TARGET.fullmatch(target) or ".." in target:
        raise UsageError(f"{target!r}: not a container name or id, nor an image reference")


@profile_app.command("seccomp")
def seccomp(
    target: Annotated[str, typer.Argument(
        help="A running container (name or id) to observe, or an image to run and observe", metavar="CONTAINER|IMAGE")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the profile (Docker/OCI JSON)")],
    command: Annotated[list[str] | None, typer.Argument(
        help="For an image: the command to run instead of its default (after --)", metavar="[-- COMMAND...]")] = None,
    duration: Annotated[int, typer.Option("--duration", "-d", min=1, max=86400,
                                          help="Seconds to observe (an image's run ends earlier when it exits); "
                                               "exercise the workload meanwhile")] = 30,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-run the image and command with the profile and check it keeps running (or, for a "
                         "command that ran to completion, that it exits with the same code)")] = False,
    startup: Annotated[bool, typer.Option(
        "--startup/--no-startup", help="For a running container: also observe a twin of it (same image, command, "
        "environment) started during the trace, so start-up syscalls are in the profile")] = True,
    docker_host: Annotated[str | None, typer.Option("--docker-host", help="Engine URL (default: DOCKER_HOST)")] = None,
) -> None:
    """Observe a workload's syscalls and write a profile allowing exactly those (plus what the runtime needs to
    start it); every other syscall fails with EPERM. CONTAINER: a running container, observed for --duration
    seconds. IMAGE: a container of it is started (its default entrypoint and command, or the COMMAND after --)
    and observed from its first syscall for --duration seconds or until it exits, then removed. Needs root and
    bpftrace."""
    import docker

    if output.is_dir() or not output.parent.is_dir():  # before the trace, not after it
        raise UsageError(f"cannot write {output}: {'a directory' if output.is_dir() else 'no such directory'}")
    if not os.access(output if output.exists() else output.parent, os.W_OK):
        raise UsageError(f"cannot write {output}: permission denied")
    _check_target(target)
    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        try:
            info = client.api.inspect_container(target)
        except docker.errors.NotFound:
            info = None
        if info is None:
            try:
                client.api.inspect_image(target)
            except (docker.errors.ImageNotFound, docker.errors.NotFound):
                raise UsageError(f"no such container or image: {target}") from None
            except docker.errors.APIError as exc:
                if exc.status_code == 400:  # the Engine's "invalid reference format"
                    raise UsageError(f"no such container or image: {target}") from None
                raise
    except docker.errors.DockerException as exc:
        raise UsageError(f"cannot use the Docker Engine: {str(exc).splitlines()[0]}") from None
    if info is not None and command:
        raise UsageError(f"{target} is a container: a COMMAND after -- is for an image")
    expect_exit: int | None = None
    if info is not None:
        seen = _observe_container(client, info, duration, startup)
        name = str(info.get("Name", target)).lstrip("/")
    else:
        seen, info, expect_exit = _observe_image(client, target, command, duration)
        name = target
    _write(output, seen, name, verify, client, info, expect_exit)


def _write(output: Path, seen: dict[str, int], name: str, verify: bool, client: Any, info: dict[str, Any],
           expect_exit: int | None) -> None:
    from containerguard.runtime.baseline.seccomp import seccomp_profile
    from containerguard.runtime.baseline.seccomp import verify as verify_profile

    if not seen:
        raise BaselineError(f"no syscall of {name} was observed: nothing to build a profile from")
    profile = seccomp_profile(seen)
    try:
        output.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    allowed = len(profile["syscalls"][0]["names"])
    _say(f"{output}: {len(seen)} syscalls observed, {allowed} allowed; the rest fail with EPERM")
    unnamed = sorted(int(s.removeprefix("syscall_")) for s in seen if s.startswith("syscall_"))
    if unnamed:  # a profile names syscalls; one libseccomp and the kernel headers cannot name is left out of it
        _say(f"warning: {len(unnamed)} observed syscall(s) have no name on this machine and are not allowed by the "
             f"profile (numbers {', '.join(map(str, unnamed[:10]))}{', ...' if len(unnamed) > 10 else ''}): "
             "a newer libseccomp names them")
    if verify:
        ok, what = verify_profile(client.api, info, profile, expect_exit=expect_exit)
        _say(f"verify: {what}")
        if not ok:
            raise BaselineError(f"the profile does not let {name} run: {what}")


def _observe_container(client: Any, info: dict[str, Any], duration: int, startup: bool) -> dict[str, int]:
    """A running container for ``duration`` seconds (and a twin of it started meanwhile, for its start-up)."""
    from containerguard.runtime.baseline.seccomp import named, observe, start_twin
    from containerguard.runtime.containers import ns_inode

    pid = int((info.get("State") or {}).get("Pid") or 0)
    mntns = ns_inode(pid) if pid else 0
    name = str(info.get("Name", "")).lstrip("/")
    if not mntns:
        raise UsageError(f"{name} is not running")
    namespaces = {mntns}
    twins: list[str] = []

    def ready() -> None:
        _say(f"tracing {name} for {duration} s: exercise it now")
        if startup:
            twin = start_twin(client.api, info, f"{name}-cg-profile-{os.getpid()}")
            twins.append(twin)
            twin_pid = int(client.api.inspect_container(twin)["State"].get("Pid") or 0)
            if twin_pid:
                namespaces.add(ns_inode(twin_pid))

    try:
        obs = observe(duration, on_ready=ready)
    finally:
        for twin in twins:
            with contextlib.suppress(Exception):
                client.api.remove_container(twin, force=True)
    return named(obs.counts.get(ns, {}) for ns in namespaces)


def _observe_image(client: Any, image: str, command: list[str] | None, duration: int
                   ) -> tuple[dict[str, int], dict[str, Any], int | None]:
    """Run ``image`` (its default command, or ``command``) under the trace until it exits or ``duration`` ends.

    Returns the named syscall counts, the run's inspect JSON (for --verify) and its exit code (None when it was
    still running at the end)."""
    import docker

    from containerguard.runtime.baseline.seccomp import create_run, named, observe

    hostname = f"cg-profile-{secrets.token_hex(4)}"  # how the trace tells this run's processes apart
    try:
        cid = create_run(client.api, image, command, hostname)
    except docker.errors.APIError as exc:
        raise UsageError(f"cannot create a container of {image}: {str(exc).splitlines()[0]}") from None
    stop = threading.Event()
    exit_code: list[int] = []

    def wait() -> None:
        try:
            exit_code.append(int(client.api.wait(cid, timeout=duration + 60)["StatusCode"]))
        except Exception:  # requests' ReadTimeout, or the container removed: the trace ends on its own
            return
        stop.set()

    def ready() -> None:
        _say(f"running {image} ({hostname}) under the trace for up to {duration} s")
        client.api.start(cid)
        threading.Thread(target=wait, name="cg-profile-wait", daemon=True).start()

    obs: Observation
    try:
        obs = observe(duration, on_ready=ready, by="uts", stop=stop)
        info = client.api.inspect_container(cid)
    except docker.errors.APIError as exc:
        raise BaselineError(f"cannot run {image}: {str(exc).splitlines()[0]}") from None
    finally:
        with contextlib.suppress(Exception):
            client.api.remove_container(cid, force=True)
    state = info.get("State") or {}
    code = None if state.get("Running") else (exit_code[0] if exit_code else int(state.get("ExitCode") or 0))
    _say(f"{image}: " + ("still running at the end of the trace" if code is None else f"exited with code {code}"))
    return named(obs.counts.get(ns, {}) for ns in obs.namespaces_named(hostname)), info, code
