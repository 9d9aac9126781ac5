"""Carrying out responses: SIGKILL of the host pid, or pause/stop/kill of the container through its runtime (the Docker
Engine API, or containerd's Tasks service: :class:`containerguard.runtime.containerd.TaskControl`)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from containerguard.model import Alert, Event
from containerguard.runtime.process import load_proc
from containerguard.runtime.rules.vocabulary import CONTAINER_ACTIONS

log = logging.getLogger(__name__)


class ContainerControl(Protocol):
    """What container responses need of a runtime: docker's low-level APIClient has these, and so has containerd's
    :class:`~containerguard.runtime.containerd.TaskControl`."""

    def pause(self, container: str) -> object:
        """Freeze the container's processes."""

    def stop(self, container: str, timeout: int) -> object:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns when the container has stopped."""

    def kill(self, container: str) -> object:
        """SIGKILL the container."""


#: /proc start times count in clock ticks (rounded down), and the agent's epoch offset and this one are taken at
#: different moments: a process that started more than this after the event cannot be the event's process
START_SLACK_NS = 20_000_000


def _in_container(pid: int, cid: str) -> bool:
    """Whether ``pid``'s cgroup path names container ``cid`` (the full id)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            return cid in fh.read()
    except OSError:
        return False


def kill_event_process(event: Event, *, allow_host: bool = False) -> str:
    """SIGKILL the process of ``event``, only when it is still that process: in the event's container (if any), started before
    the event (a pid reused since is refused), and never the agent itself, its parent or its children (bpftrace). The
    signal goes through a pidfd taken before the checks, so the pid cannot change hands between check and kill.

    A host process (outside any container: a daemon, an administrator's shell) is killed only when the user opted
    into responses on the host (``allow_host``, ``agent --respond-host``): a rule written for containers that also
    matches on the host must not take down the host's own services."""
    f = event.fields
    pid = int(f.get("proc.pid") or 0)
    cid = str(f.get("container.full_id") or f.get("container.id") or "")
    if pid <= 1:
        raise ValueError("no process id in the event")
    if cid in ("", "host") and not allow_host:
        raise ValueError(f"refused: process {pid} is a host process (outside any container); "
                         "agent --respond-host allows responses on the host")
    if pid in (os.getpid(), os.getppid()):
        raise ValueError(f"refused: process {pid} is the agent or its parent")
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ValueError(f"process {pid} already exited") from None
    try:
        live = load_proc(pid)
        if live is None:
            raise ValueError(f"process {pid} already exited")
        if live.start_ns > event.time_ns + START_SLACK_NS:
            raise ValueError(f"refused: pid {pid} now belongs to another process (started after the event)")
        if len(cid) == 64 and not _in_container(pid, cid):
            raise ValueError(f"refused: pid {pid} is no longer in container {cid[:12]}")
        if live.ppid == os.getpid():
            raise ValueError(f"refused: process {pid} is the agent's own child")
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except ProcessLookupError:
            raise ValueError(f"process {pid} already exited") from None
    finally:
        os.close(fd)
    return f"kill_process {pid}: ok"


class Responder:
    """Carries out responses. ``api`` controls containers (None: container actions fail); ``stop_timeout``: the
    seconds a stopped container has between SIGTERM and SIGKILL; ``allow_host``: kill_process may act on host
    processes; ``is_own``: whether a container id names the container the agent itself runs in (pausing, stopping
    or killing it would blind the agent, so those are refused)."""

    def __init__(self, api: ContainerControl | None, *, stop_timeout: int = 2, allow_host: bool = False,
                 is_own: Callable[[str], bool] | None = None) -> None:
        self.api = api
        self.stop_timeout = stop_timeout
        self.allow_host = allow_host
        self.is_own = is_own
        self.done = 0
        self.failed = 0
        self.dedupe_s = 5.0
        self._recent: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def run(self, action: str, alert: Alert, event: Event) -> str:
        """Carry out one action for this alert; returns its outcome line (never raises)."""
        try:
            if action == "kill_process":
                outcome = kill_event_process(event, allow_host=self.allow_host)
            elif action in CONTAINER_ACTIONS:
                cid = str(event.fields.get("container.full_id") or event.fields.get("container.id") or "")
                if not cid or cid == "host":
                    raise ValueError("the event is not from a container")
                if self.is_own is not None and self.is_own(cid):
                    raise ValueError(f"refused: container {cid[:12]} is the one the agent runs in")
                if self.api is None:
                    raise ValueError("no container runtime connection")
                with self._lock:  # a burst of alerts from one container acts on it once
                    now = time.monotonic()
                    last = self._recent.get((action, cid))
                    if last is not None and now - last < self.dedupe_s:
                        return f"{action} {cid[:12]}: already done"
                    if len(self._recent) > 1024:
                        self._recent.clear()
                if action == "pause_container":
                    self.api.pause(cid)
                elif action == "stop_container":
                    self.api.stop(cid, timeout=self.stop_timeout)
                else:
                    self.api.kill(cid)
                outcome = f"{action} {cid[:12]}: ok"
                with self._lock:
                    self._recent[(action, cid)] = time.monotonic()
            else:
                raise ValueError(f"unknown action {action!r}")
        except Exception as exc:
            self.failed += 1
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            outcome = f"{action}: error: {msg}"
            log.warning("response for %r failed: %s", alert.rule, outcome)
            return outcome
        self.done += 1
        log.info("response for %r: %s", alert.rule, outcome)
        return outcome
