"""Carrying out responses: SIGKILL of the host pid, or pause/stop/kill of the container through its runtime (the Docker
Engine API, or containerd's Tasks service: :class:`containerguard.runtime.containerd.TaskControl`)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Protocol

from containerguard.model import Alert, Event
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


class Responder:
    """Carries out responses. ``api`` controls containers (None: container actions fail); ``stop_timeout``: the
    seconds a stopped container has between SIGTERM and SIGKILL."""

    def __init__(self, api: ContainerControl | None, *, stop_timeout: int = 2) -> None:
        self.api = api
        self.stop_timeout = stop_timeout
        self.done = 0
        self.failed = 0
        self.dedupe_s = 5.0
        self._recent: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def run(self, action: str, alert: Alert, event: Event) -> str:
        """Carry out one action for this alert; returns its outcome line (never raises)."""
        try:
            if action == "kill_process":
                pid = int(event.fields.get("proc.pid") or 0)
                if pid <= 1:
                    raise ValueError("no process id in the event")
                os.kill(pid, signal.SIGKILL)
                outcome = f"kill_process {pid}: ok"
            elif action in CONTAINER_ACTIONS:
                cid = str(event.fields.get("container.full_id") or event.fields.get("container.id") or "")
                if not cid or cid == "host":
                    raise ValueError("the event is not from a container")
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
