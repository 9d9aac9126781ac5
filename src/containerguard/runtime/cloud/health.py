"""Per-source health: what a source read, what it skipped and why, how far behind the newest event it is.

One :class:`SourceHealth` per running source. The source's reader thread updates it; ``/healthz`` and the
metrics endpoint read :meth:`SourceHealth.to_json` from another thread (plain int/str attributes, so a
reader sees a consistent-enough snapshot without a lock).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from containerguard.report.terminal import clean

log = logging.getLogger("containerguard.runtime.cloud")

#: how many recent warnings a source keeps for /healthz
MAX_RECENT_WARNINGS = 20


@dataclass
class SourceHealth:
    """Counters of one event source (``cloudtrail:s3://bucket/prefix``, ``gcp_audit:/var/log/gcp``, ...)."""

    name: str
    kind: str
    events: int = 0
    #: records or files skipped: malformed JSON, truncated gzip, missing fields, oversized records
    parse_errors: int = 0
    files: int = 0
    bytes: int = 0
    #: event time of the newest event read (ns since the epoch); lag = now - this
    newest_event_ns: int = 0
    #: wall-clock time of the last successful read (ns)
    last_read_ns: int = 0
    #: ok | degraded (an error since the last good read, e.g. credentials) | stopped
    status: str = "ok"
    last_error: str = ""
    #: what the last error was: "credentials" (rejected or missing: fix the credentials), "read" (anything
    #: else: network, missing object, throttling), "" while ok
    failure: str = ""
    credential_failures: int = 0
    retries: int = 0
    #: seconds until the next retry when a read failed (0 when healthy)
    backoff_s: float = 0.0
    recent_warnings: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_RECENT_WARNINGS))

    def skipped(self, where: str, reason: str) -> None:
        """Count a skipped record or file and warn, naming the file (and record) -- the source goes on."""
        self.parse_errors += 1
        msg = clean(f"{where}: {reason}", oneline=True)  # file names and record ids come from the data
        self.recent_warnings.append(msg)
        log.warning("%s: skipped %s", self.name, msg)

    def read_ok(self) -> None:
        """A read succeeded: back to ok, error and backoff cleared."""
        self.last_read_ns = time.time_ns()
        if self.status == "degraded":
            log.info("%s: reading again", self.name)
        self.status = "ok"
        self.last_error = ""
        self.failure = ""
        self.backoff_s = 0.0

    def failed(self, error: str, *, credentials: bool = False, backoff_s: float = 0.0) -> None:
        """A read failed (network, permissions, credentials): degraded until the next good read."""
        self.status = "degraded"
        self.last_error = error = clean(error, oneline=True)
        self.failure = "credentials" if credentials else "read"
        self.backoff_s = backoff_s
        self.retries += 1
        if credentials:
            self.credential_failures += 1
        log.warning("%s: %s (retrying in %.1f s)", self.name, error, backoff_s)

    def saw_event(self, time_ns: int) -> None:
        """Count one event and keep the newest event time (for the lag)."""
        self.events += 1
        if time_ns > self.newest_event_ns:
            self.newest_event_ns = time_ns

    def saw_events(self, n: int, newest_ns: int) -> None:
        """Count ``n`` events read elsewhere (a pool worker), the newest at ``newest_ns``."""
        self.events += n
        if newest_ns > self.newest_event_ns:
            self.newest_event_ns = newest_ns

    def lag_seconds(self, now_ns: int | None = None) -> float | None:
        """Seconds between now and the newest event read; None before the first event."""
        if not self.newest_event_ns:
            return None
        now = time.time_ns() if now_ns is None else now_ns
        return max(0.0, (now - self.newest_event_ns) / 1e9)

    def to_json(self) -> dict[str, Any]:
        """The source's health as JSON (in /healthz and /metrics)."""
        lag = self.lag_seconds()
        return {
            "name": self.name, "kind": self.kind, "status": self.status, "events": self.events,
            "parse_errors": self.parse_errors, "files": self.files, "bytes": self.bytes,
            "lag_seconds": None if lag is None else round(lag, 3),
            "newest_event_ns": self.newest_event_ns, "last_read_ns": self.last_read_ns,
            "last_error": self.last_error, "failure": self.failure, "credential_failures": self.credential_failures,
            "retries": self.retries, "backoff_s": round(self.backoff_s, 3),
            "recent_warnings": list(self.recent_warnings),
        }


class Backoff:
    """Exponential backoff with a ceiling: 1, 2, 4, ... seconds up to ``ceiling``; ``reset()`` after a success."""

    def __init__(self, first: float = 1.0, ceiling: float = 300.0) -> None:
        self.first = first
        self.ceiling = ceiling
        self._next = first

    def next(self) -> float:
        """The delay before the next retry (doubling up to the ceiling)."""
        delay = self._next
        self._next = min(self.ceiling, self._next * 2)
        return delay

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self._next = self.first
