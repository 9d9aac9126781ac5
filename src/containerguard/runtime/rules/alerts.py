"""Falco-compatible JSON for alerts (what `rules replay` prints and the agent's outputs can reuse)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from containerguard.model import Alert
from containerguard.runtime.rules.compiler import rfc3339


def priority_name(alert: Alert) -> str:
    """Falco's spelling of the priority (Warning, Critical, Informational, ...)."""
    return alert.priority.name.capitalize()


def alert_to_json(alert: Alert, hostname: str = "") -> dict[str, Any]:
    """The Falco JSON output document (time, rule, priority, source, output, output_fields, tags, hostname) plus
    ContainerGuard's rule_id, container_id, container_name, image and responses.

    As Falco does, ``output`` is prefixed with the event time and the priority.
    """
    sec, frac = divmod(alert.time_ns, 1_000_000_000)
    clock = datetime.fromtimestamp(sec, UTC).strftime("%H:%M:%S") + f".{frac:09d}"
    doc: dict[str, Any] = {
        "time": rfc3339(alert.time_ns),
        "rule": alert.rule,
        "priority": priority_name(alert),
        "source": alert.source,
        "output": f"{clock}: {priority_name(alert)} {alert.output}",
        "output_fields": dict(alert.output_fields),
        "tags": sorted(alert.tags),
        "rule_id": alert.rule_id,
        "container_id": alert.container_id,
        "container_name": alert.container_name,
        "image": alert.image,
    }
    if hostname:
        doc["hostname"] = hostname
    if alert.responses:
        doc["responses"] = list(alert.responses)
    return doc
