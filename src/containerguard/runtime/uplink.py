"""The agent's link to the central server: alerts and container snapshots in batches, through an on-disk
spool, so a server outage loses nothing and a replay duplicates nothing.

    emit(alert doc) -> buffer -> (every ``flush_interval`` s or ``batch_size`` alerts) a spool file
    sender thread:  oldest spool file -> POST /api/v1/agent/report -> ack -> delete the file

* Every alert gets a ``uid`` when it is emitted and every batch a ``batch_id`` when it is spooled; the
  server acknowledges a batch it already has and skips alert uids it already stored. A batch is deleted only
  after the server's 2xx, so a crash or an outage at any point resends it and stores nothing twice.
* The spool is bounded (``max_bytes``): when full, the oldest batches are dropped, counted in ``dropped``,
  logged, and reported to the server with the next batch. A 4xx answer other than 401/403/408/429 (which an operator can fix: kept and retried) means the
  server will never take that batch: it is moved to ``rejected/`` and the queue moves on.
* Container snapshots (the running containers with digest, privileges, capabilities, mounts, ports,
  network mode) go with the first batch and then every ``containers_interval`` s or when they change.
* Between writing the spool file and the emit, at most ``flush_interval`` seconds of alerts live only in
  memory (a crash of the agent itself in that window loses them; an outage of the server does not).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from containerguard import __version__
from containerguard.errors import UsageError

log = logging.getLogger(__name__)

ContainersFn = Callable[[], list[dict[str, Any]]]


class ServerUplink:
    """An agent output (``emit``/``close``/``dropped``) that reports to the central server."""

    def __init__(self, server: str, token: str, spool_dir: Path | str, *, host: str | None = None,
                 containers: ContainersFn | None = None, batch_size: int = 500, flush_interval: float = 1.0,
                 containers_interval: float = 60.0, max_bytes: int = 256 << 20, timeout: float = 10.0,
                 max_backoff: float = 30.0) -> None:
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"--server {server!r}: expected http(s)://HOST:PORT")
        if not token:
            raise UsageError("--server needs --token (an agent token; env CONTAINERGUARD_TOKEN)")
        self.name = f"server:{server}"
        self.dropped = 0
        self.sent_batches = 0
        self.host = host or socket.gethostname()
        self.spool = Path(spool_dir)
        try:
            (self.spool / "rejected").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the spool directory {self.spool}: {exc.strerror}") from exc
        self.url = server.rstrip("/") + "/api/v1/agent/report"
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.containers_interval = containers_interval
        self.max_bytes = max_bytes
        self.max_backoff = max_backoff
        self._containers = containers
        self._containers_due = containers is not None
        self._last_containers = 0.0
        self._unreported_drops = 0
        self._buf: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        cafile = os.environ.get("SSL_CERT_FILE")
        self._http = httpx.Client(timeout=timeout, verify=cafile or True,
                                  headers={"Authorization": f"Bearer {token}"})
        self._flusher = threading.Thread(target=self._flush_loop, name="cg-uplink-flush", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="cg-uplink-send", daemon=True)
        self._flusher.start()
        self._sender.start()

    # ------------------------------------------------------------------ producer side

    def emit(self, doc: dict[str, Any]) -> None:
        """Queue one alert document (a uid is added); a full buffer is spooled at once."""
        alert = {**doc, "uid": uuid.uuid4().hex}
        with self._lock:
            self._buf.append(alert)
            full = len(self._buf) >= self.batch_size
        if full:
            self.flush()

    def containers_changed(self) -> None:
        """A container started or stopped: the next batch carries a fresh snapshot."""
        self._containers_due = self._containers is not None

    def flush(self) -> None:
        """Write what is buffered (and a container snapshot when one is due) as one spool file."""
        with self._lock:
            alerts, self._buf = self._buf, []
        snapshot = None
        now = time.monotonic()
        if self._containers is not None and (self._containers_due or now - self._last_containers >= self.containers_interval):
            try:
                snapshot = self._containers()
                self._containers_due = False
                self._last_containers = now
            except Exception:
                log.exception("container snapshot failed")
        if not alerts and snapshot is None:
            return
        batch = {"host": self.host, "batch_id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}",
                 "agent_version": __version__, "alerts": alerts, "containers": snapshot,
                 "dropped": self._unreported_drops}
        self._unreported_drops = 0
        data = json.dumps(batch, separators=(",", ":"), default=str).encode()
        self._make_room(len(data))
        tmp = self.spool / f".{batch['batch_id']}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.spool / f"{batch['batch_id']}.json")
        self._wake.set()

    def _files(self) -> list[Path]:
        return sorted(self.spool.glob("*.json"))

    def _make_room(self, need: int) -> None:
        files = self._files()
        total = sum(f.stat().st_size for f in files)
        while files and total + need > self.max_bytes:
            oldest = files.pop(0)
            try:
                n = len(json.loads(oldest.read_bytes()).get("alerts", []))
                total -= oldest.stat().st_size
                oldest.unlink()
            except (OSError, ValueError):
                continue
            self.dropped += n
            self._unreported_drops += n
            log.warning("agent spool full (%d bytes): dropped the oldest batch of %d alerts", self.max_bytes, n)

    def spooled(self) -> int:
        """Batches waiting in the spool."""
        return len(self._files())

    # ------------------------------------------------------------------ sender side

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except OSError:
                log.exception("writing the agent spool failed")

    def _send_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            files = self._files()
            if not files:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            ok = self._send(files[0])
            if ok:
                backoff = 0.5
            else:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _send(self, path: Path) -> bool:
        try:
            data = path.read_bytes()
        except OSError:
            return True  # gone (dropped for room): move on
        try:
            resp = self._http.post(self.url, content=data, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            log.debug("server unreachable (%s); %d batches spooled", exc, len(self._files()))
            return False
        if resp.status_code < 300:
            path.unlink(missing_ok=True)
            self.sent_batches += 1
            return True
        if resp.status_code in (401, 403, 408, 429) or resp.status_code >= 500:  # fixable: keep it
            log.warning("server answered %d to a batch; keeping it and retrying", resp.status_code)
            return False
        log.error("server refused batch %s (%d: %s); moved to %s", path.name, resp.status_code, resp.text[:200],
                  self.spool / "rejected")
        os.replace(path, self.spool / "rejected" / path.name)
        return True

    def close(self, drain_seconds: float = 5.0) -> None:
        """Flush the buffer to the spool and try to send it for up to ``drain_seconds``; what is left stays
        spooled for the next start."""
        try:
            self.flush()
        except OSError:
            log.exception("writing the agent spool failed")
        deadline = time.monotonic() + drain_seconds
        while self._files() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stop.set()
        self._wake.set()
        self._flusher.join(5)
        self._sender.join(15)
        self._http.close()


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
            "ports": [dict(p) for p in info.ports], "network_mode": info.network_mode}
