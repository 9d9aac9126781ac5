"""Reporting to the central server in batches through a bounded on-disk spool: what the agent (alerts, container
snapshots) and the policy enforcement points (admission webhook, Docker plugin, agent policies: decisions) share.

    emit(item) -> memory buffer -> flusher thread (every ``flush_interval`` s, or at once when ``batch_size``
    items wait) -> one spool file per batch -> sender thread: oldest file -> POST url -> 2xx -> delete the file

* ``emit`` never touches the disk or the network: it appends to the buffer under a lock and, when the buffer
  is full, wakes the flusher. A caller on a latency-critical path (an admission decision) pays microseconds,
  whatever the state of the server. Past ``max_buffer`` items (the disk cannot keep up) the oldest are
  dropped and counted.
* Every item gets a ``uid`` when it is emitted and every batch a ``batch_id`` when it is spooled; the server
  acknowledges a batch it already has and stores nothing twice. A batch is deleted only after the server's
  2xx, so a crash or an outage at any point resends it and the server stores it once.
* The spool is bounded (``max_bytes``): when full, the oldest batches are dropped, counted in ``dropped``,
  logged, and reported to the server with the next batch (``dropped`` in the batch). A 4xx answer other than
  401/403/408/429 (which an operator can fix: kept and retried) means the server will never take that batch:
  it is moved to ``rejected/`` (kept for an operator to look at, bounded too: past a quarter of ``max_bytes`` the
  oldest rejected batches are deleted, counted in ``rejected_pruned``) and the queue moves on. Connection errors and 5xx are retried with
  exponential backoff up to ``max_backoff`` seconds.
* A subclass says what a batch holds by overriding :meth:`BatchUplink.envelope`.
* A spool directory belongs to one uplink at a time (an exclusive lock on ``.lock`` inside it, held until
  :meth:`BatchUplink.close` or the process's end): two uplinks sending the same files to different endpoints
  (the agent's alerts and its policy decisions once defaulted to the same directory) would post each other's
  batches where they are refused. The second one gets a UsageError naming the directory.
* Between the emit and the spool file, at most ``flush_interval`` seconds of items live only in memory (a
  crash of the process itself in that window loses them; an outage of the server does not).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from containerguard.errors import UsageError
from containerguard.tls import client_verify

log = logging.getLogger(__name__)


def new_batch_id() -> str:
    """Sortable by creation time (the spool sends oldest first) and unique."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


def _carried(doc: Any) -> int:
    """The drop count a spooled batch carries (``dropped``), 0 when it has none."""
    n = doc.get("dropped") if isinstance(doc, dict) else 0
    return n if isinstance(n, int) and n > 0 else 0


def _lock_dir(spool: Path) -> BinaryIO:
    """An exclusive, non-blocking lock on ``spool`` (see the module doc); the open file holds it."""
    try:
        fh = open(spool / ".lock", "a+b")  # noqa: SIM115 - held for the uplink's life
    except OSError as exc:
        raise UsageError(f"cannot lock the spool directory {spool}: {exc.strerror}") from exc
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise UsageError(f"the spool directory {spool} is in use by another uplink (another process, or another "
                         "sender in this one): give each its own --spool-dir") from None
    return fh


class BatchUplink:
    """Items to ``url`` in batches through the spool under ``spool_dir`` (see the module doc). ``items_key``
    names the list of items in a batch (``alerts``, ``decisions``)."""

    def __init__(self, url: str, token: str, spool_dir: Path | str, *, items_key: str = "items",
                 batch_size: int = 500, flush_interval: float = 1.0, max_bytes: int = 256 << 20,
                 max_buffer: int | None = None, timeout: float = 10.0, max_backoff: float = 30.0,
                 role_hint: str = "a token") -> None:  # what kind of token --token wants
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server {url!r}: expected http(s)://HOST:PORT")
        if not token:
            raise UsageError(f"--server needs --token ({role_hint}; env CONTAINERGUARD_TOKEN)")
        self.url = url
        self.items_key = items_key
        self.dropped = 0
        self.sent_batches = 0
        self.rejected_batches = 0
        self.rejected_pruned = 0
        #: the last attempt to send failed (the server is down, hangs or refuses): close() does not wait to drain
        self.failing = False
        self.spool = Path(spool_dir)
        try:
            (self.spool / "rejected").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the spool directory {self.spool}: {exc.strerror}") from exc
        self._lockfile = _lock_dir(self.spool)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_bytes = max_bytes
        self.max_buffer = max_buffer if max_buffer is not None else batch_size * 20
        self.max_backoff = max_backoff
        self._unreported_drops = 0
        self._buf: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._full = threading.Event()
        self._wake = threading.Event()
        self._stop_flush = threading.Event()
        self._stop = threading.Event()
        self._http = httpx.Client(timeout=timeout, verify=client_verify(),
                                  headers={"Authorization": f"Bearer {token}"})
        self._flusher = threading.Thread(target=self._flush_loop, name="cg-uplink-flush", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="cg-uplink-send", daemon=True)
        self._flusher.start()
        self._sender.start()

    # ------------------------------------------------------------------ producer side

    def emit(self, doc: dict[str, Any]) -> None:
        """Queue one item (a ``uid`` is added). Never blocks on the disk or the network."""
        item = {**doc, "uid": uuid.uuid4().hex}
        with self._lock:
            self._buf.append(item)
            n = len(self._buf)
            if n > self.max_buffer:  # the flusher cannot keep up (disk full?): the oldest go, counted
                over = n - self.max_buffer
                del self._buf[:over]
                self.dropped += over
                self._unreported_drops += over
        if n >= self.batch_size:
            self._full.set()

    def envelope(self, items: list[dict[str, Any]], dropped: int) -> dict[str, Any] | None:
        """The batch body for ``items`` (``batch_id`` is added); None: nothing to send now. Subclasses add
        their own fields; ``dropped``: items lost (spool or buffer full) since the last batch."""
        if not items and not dropped:
            return None
        return {self.items_key: items, "dropped": dropped}

    def flush(self) -> None:
        """Write what is buffered as spool files (one per ``batch_size`` items)."""
        with self._flush_lock:
            with self._lock:
                items, self._buf = self._buf, []
            first = True
            while first or items:
                first = False
                chunk, items = items[:self.batch_size], items[self.batch_size:]
                with self._lock:
                    drops, self._unreported_drops = self._unreported_drops, 0
                batch = self.envelope(chunk, drops)
                if batch is None:
                    with self._lock:
                        self._unreported_drops += drops
                    return
                try:
                    self._write({**batch, "batch_id": new_batch_id()})
                except OSError as exc:  # the disk is full or gone: this batch is lost, and said so
                    with self._lock:
                        self.dropped += len(chunk)
                        self._unreported_drops += len(chunk) + drops
                    log.warning("spool %s: cannot write a batch of %d %s (%s); dropped", self.spool, len(chunk),
                                self.items_key, exc.strerror or exc)

    def _write(self, batch: dict[str, Any]) -> None:
        # orjson: a batch of 200 decisions encodes in well under a millisecond, so the flusher holds the GIL
        # (which the enforcement point's event loop needs) only briefly
        data = orjson.dumps(batch, default=str, option=orjson.OPT_NON_STR_KEYS)
        self._make_room(len(data))
        tmp = self.spool / f".{batch['batch_id']}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.spool / f"{batch['batch_id']}.json")
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self._wake.set()

    def _files(self) -> list[Path]:
        return sorted(self.spool.glob("*.json"))

    def _make_room(self, need: int) -> None:
        files = self._files()
        total = sum(f.stat().st_size for f in files)
        while files and total + need > self.max_bytes:
            oldest = files.pop(0)
            try:
                doc = json.loads(oldest.read_bytes())
                n = len(doc.get(self.items_key) or [])
                total -= oldest.stat().st_size
                oldest.unlink()
            except (OSError, ValueError, AttributeError):
                continue
            with self._lock:
                self.dropped += n
                # the drops this batch was to report are reported by the next one instead
                self._unreported_drops += n + _carried(doc)
            log.warning("spool %s full (%d bytes): dropped the oldest batch of %d %s", self.spool, self.max_bytes,
                        n, self.items_key)

    def spooled(self) -> int:
        """Batches waiting in the spool."""
        return len(self._files())

    def status(self) -> dict[str, Any]:
        """For health endpoints: batches waiting, sent, and items lost (spool or buffer full)."""
        return {"url": self.url, "spooled_batches": self.spooled(), "sent_batches": self.sent_batches,
                "dropped": self.dropped, "rejected_batches": self.rejected_batches, "failing": self.failing}

    # ------------------------------------------------------------------ sender side

    def _flush_loop(self) -> None:
        while not self._stop_flush.is_set():
            self._full.wait(self.flush_interval)
            self._full.clear()
            if self._stop_flush.is_set():
                return
            try:
                self.flush()
            except OSError:
                log.exception("writing the spool %s failed", self.spool)

    def _send_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            files = self._files()
            if not files:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            ok = self._send(files[0])
            self.failing = not ok
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
            log.warning("server answered %d to a batch (%s); keeping it and retrying", resp.status_code,
                        resp.text[:200])
            return False
        log.error("server refused batch %s (%d: %s); moved to %s", path.name, resp.status_code, resp.text[:200],
                  self.spool / "rejected")
        os.replace(path, self.spool / "rejected" / path.name)
        self.rejected_batches += 1
        try:
            carried = _carried(json.loads(data))
        except (ValueError, AttributeError):
            carried = 0
        if carried:  # the server never saw the drops this batch reported: the next batch reports them
            with self._lock:
                self._unreported_drops += carried
        self._prune_rejected()
        return True

    def _prune_rejected(self) -> None:
        """Keep ``rejected/`` within a quarter of ``max_bytes`` (a server that refuses every batch, say after an
        incompatible upgrade, must not fill the disk): the oldest rejected batches go first."""
        files = sorted((self.spool / "rejected").glob("*.json"))
        sizes = []
        for f in files:
            try:
                sizes.append(f.stat().st_size)
            except OSError:
                sizes.append(0)
        total, cap = sum(sizes), self.max_bytes // 4
        for f, size in zip(files, sizes, strict=True):
            if total <= cap:
                break
            f.unlink(missing_ok=True)
            total -= size
            self.rejected_pruned += 1
            log.warning("spool %s: rejected batches over %d bytes; deleted the oldest, %s", self.spool, cap, f.name)

    def close(self, drain_seconds: float = 5.0) -> None:
        """Flush the buffer to the spool and try to send it for up to ``drain_seconds``; what is left stays
        spooled for the next start."""
        self._stop_flush.set()
        self._full.set()
        self._flusher.join(5)
        try:
            self.flush()
        except OSError:
            log.exception("writing the spool %s failed", self.spool)
        # drain while the server takes batches; a server that is down, hangs or refuses gets no wait (what is left
        # is on disk and goes at the next start, and the server stores a batch sent twice once)
        now = time.monotonic()
        deadline, progress, sent = now + drain_seconds, now, self.sent_batches
        while self._files() and not self.failing and now < deadline and now - progress < 1.0:
            time.sleep(0.1)  # a post that hangs makes no progress: given up after a second
            now = time.monotonic()
            if self.sent_batches != sent:
                progress, sent = now, self.sent_batches
        self._stop.set()
        self._wake.set()
        self._sender.join(1.0)  # a POST in flight to a hanging server is abandoned (its batch stays spooled)
        if not self._sender.is_alive():
            self._http.close()
        self._lockfile.close()  # releases the directory's lock
