"""The emit stage: alerts become Falco-compatible JSON documents on every configured output; events are recorded.

:class:`Emitter` is the only place an agent alert turns into a document (:func:`alert_to_json` plus the event
time); :class:`Recorder` appends events as JSON lines (docs/events.md) for ``rules replay``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from containerguard.model import Alert, Event, Priority
from containerguard.runtime.events import write_event
from containerguard.runtime.outputs import Outputs
from containerguard.runtime.rules.alerts import alert_to_json, build_alert

log = logging.getLogger(__name__)


class Emitter:
    """Alerts -> documents -> outputs, counting what it emitted."""

    def __init__(self, outputs: Outputs, hostname: str) -> None:
        self.outputs = outputs
        self.hostname = hostname
        self.alerts = 0
        self.responses = 0
        self.response_errors = 0

    def emit(self, alert: Alert, event: Event, outcomes: tuple[str, ...]) -> Alert:
        """Emit ``alert`` (raised by ``event``) with the outcomes of its responses; returns the emitted alert."""
        self.responses += len(outcomes)
        self.response_errors += sum(1 for o in outcomes if ": error:" in o)
        alert = dataclasses.replace(alert, responses=outcomes)
        self.alerts += 1
        doc = alert_to_json(alert, self.hostname)
        doc["event_time_ns"] = event.time_ns
        if outcomes:  # when the responses were done (the kill latency is this minus event_time_ns)
            doc["responded_ns"] = time.time_ns()
        self.outputs.emit(doc)
        return alert

    def internal(self, rule: str, rule_id: str, priority: Priority, text: str, fields: dict[str, Any]) -> None:
        """An alert about the agent itself (sensor restarts, drops): source ``internal``, tag ``health``."""
        now = time.time_ns()
        alert = build_alert(rule=rule, rule_id=rule_id, priority=priority, output=text, time_ns=now,
                            source="internal", event_fields={}, output_fields=fields,
                            tags=("containerguard", "health"))
        self.outputs.emit(alert_to_json(alert, self.hostname))

    def close(self) -> None:
        """Close every output (flushing what they queued)."""
        self.outputs.close()


@functools.lru_cache(maxsize=8192)
def _redacted_value(name: str, value: str) -> str:
    """The value of one environment variable with any secret masked, judged by the secret scanner's rules on the
    whole ``NAME=VALUE`` entry (so ``AWS_SECRET_ACCESS_KEY=...``, ``DB_PASSWORD=...`` and token-shaped values are
    masked, ``PATH=...`` is kept): the project's one masking code, :func:`containerguard.secrets.redact`."""
    from containerguard.secrets import redact

    entry = f"{name}={value}"
    masked = redact(entry)
    if masked == entry:
        return value
    prefix = f"{name}="
    return masked[len(prefix):] if masked.startswith(prefix) else "****"  # the name itself matched: hide it all


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """An environment (``proc.env``) with the values of secret-looking variables masked (``Zq3x****``)."""
    return {k: _redacted_value(k, v) if isinstance(v, str) else v for k, v in env.items()}


class Recorder:
    """Appends every event it is given to a JSON-lines file (``--record``).

    The environment of a process (``proc.env``) can hold credentials: unless ``record_env`` is set, the values of
    secret-looking variables are masked in the file (:func:`redact_env`). Rules evaluated live see the real values.
    """

    def __init__(self, path: str, record_env: bool = False) -> None:
        self._fh: IO[str] | None = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.record_env = record_env

    def record(self, event: Event) -> None:
        """Append one event (a failed write is logged, never raised: recording must not stop detection)."""
        if self._fh is None:
            return
        env = event.fields.get("proc.env") if not self.record_env else None
        if isinstance(env, Mapping) and env:
            event = dataclasses.replace(event, fields={**event.fields, "proc.env": redact_env(env)})
        try:
            write_event(self._fh, event)
            self._fh.flush()
        except (OSError, ValueError, TypeError):
            log.debug("recording failed", exc_info=True)

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
