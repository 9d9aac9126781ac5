"""The agent's link to the central server: alerts and container snapshots in batches, through the on-disk
spool of :mod:`containerguard.spool` (shared with the policy enforcement points), so a server outage loses
nothing and a replay duplicates nothing.

    emit(alert doc) -> buffer -> (every ``flush_interval`` s or ``batch_size`` alerts) a spool file
    sender thread:  oldest spool file -> POST /api/v1/agent/report -> ack -> delete the file

What is agent-specific lives here: the batch's ``host`` and ``agent_version``, the container snapshots
(the running containers with digest, privileges, capabilities, mounts, ports, network mode), which go with the
first batch and then every ``containers_interval`` s or when they change, and the behavioural baselines'
summaries (workload, mode, entry counts, last change), which go when they change (checked at every flush). Retries, backoff, the bounded spool,
rejected batches and idempotent batch ids are the spool's (see there).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from containerguard import __version__
from containerguard.spool import BatchUplink

log = logging.getLogger(__name__)

ContainersFn = Callable[[], list[dict[str, Any]]]
#: the host's behavioural baselines, summarised (runtime/baseline: BaselineDetector.summaries)
BaselinesFn = Callable[[], list[dict[str, Any]] | None]


class ServerUplink(BatchUplink):
    """An agent output (``emit``/``close``/``dropped``) that reports to the central server."""

    def __init__(self, server: str, token: str, spool_dir: Path | str, *, host: str | None = None,
                 containers: ContainersFn | None = None, baselines: BaselinesFn | None = None,
                 batch_size: int = 500, flush_interval: float = 1.0, containers_interval: float = 60.0, max_bytes: int = 256 << 20, timeout: float = 10.0,
                 max_backoff: float = 30.0) -> None:
        self.name = f"server:{server}"
        self.host = host or socket.gethostname()
        self.containers_interval = containers_interval
        self._containers = containers
        self._containers_due = containers is not None
        self._last_containers = 0.0
        self._baselines = baselines
        self._baselines_sent: list[dict[str, Any]] | None = None
        self._last_baselines = 0.0
        super().__init__(server.rstrip("/") + "/api/v1/agent/report", token, spool_dir, items_key="alerts",
                         batch_size=batch_size, flush_interval=flush_interval, max_bytes=max_bytes,
                         timeout=timeout, max_backoff=max_backoff, role_hint="an agent token")

    def containers_changed(self) -> None:
        """A container started or stopped: the next batch carries a fresh snapshot."""
        self._containers_due = self._containers is not None
        self._full.set()  # soon, not at the next interval

    def envelope(self, items: list[dict[str, Any]], dropped: int) -> dict[str, Any] | None:
        """The agent's batch: host, version, alerts and (when due) the container snapshot."""
        snapshot = None
        now = time.monotonic()
        if self._containers is not None and (self._containers_due or now - self._last_containers >= self.containers_interval):
            try:
                snapshot = self._containers()
                self._containers_due = False
                self._last_containers = now
            except Exception:
                log.exception("container snapshot failed")
        baselines = self._baseline_snapshot(now)
        if not items and not dropped and snapshot is None and baselines is None:
            return None
        doc = {"host": self.host, "agent_version": __version__, "alerts": items, "containers": snapshot,
               "dropped": dropped}
        if baselines is not None:
            doc["baselines"] = baselines
        return doc

    def _baseline_snapshot(self, now: float) -> list[dict[str, Any]] | None:
        """The baselines when they changed since the last batch that carried them (a mode, a count, a new or
        deleted workload), or every ``containers_interval`` s; else None."""
        if self._baselines is None:
            return None
        try:
            current = self._baselines()
        except Exception:
            log.exception("baseline summary failed")
            return None
        if current is None or (current == self._baselines_sent and now - self._last_baselines < self.containers_interval):
            return None
        self._baselines_sent = current
        self._last_baselines = now
        return current


def default_spool_dir() -> Path:
    """``agent-spool`` under the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("containerguard")) / "agent-spool"


def container_doc(info: Any) -> dict[str, Any]:
    """A ContainerInfo as the server's report schema wants it."""
    return {"id": info.id, "name": info.name, "image": info.image, "image_id": info.image_id,
            "privileged": info.privileged, "cap_add": list(info.cap_add),
            "mounts": [{"source": str(m.get("Source", "")), "destination": str(m.get("Destination", "")),
                        "rw": bool(m.get("RW", True))} for m in info.mounts],
            "ports": [dict(p) for p in info.ports], "network_mode": info.network_mode,
            "pid_mode": info.pid_mode, "ipc_mode": info.ipc_mode, "read_only": info.read_only}
