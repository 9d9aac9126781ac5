"""The one alert builder: :func:`build_alert` makes every :class:`Alert` (rule matches, baseline deviations, the
agent's own health alerts) and :func:`alert_to_json` its Falco-compatible JSON document (what ``rules replay``
prints and the agent's outputs emit)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from containerguard.model import Alert, Priority
from containerguard.runtime.rules.compiler import rfc3339


def build_alert(*, rule: str, rule_id: str, priority: Priority, output: str, time_ns: int, source: str,
                event_fields: Mapping[str, Any], output_fields: Mapping[str, Any] | None = None,
                tags: Iterable[str] = (), responses: tuple[str, ...] = ()) -> Alert:
    """An alert for an event with ``event_fields``: the container it names comes from the event's fields."""
    f = event_fields
    image = f.get("container.image")
    if not image and f.get("container.image.repository"):
        tag = f.get("container.image.tag")
        image = f"{f['container.image.repository']}:{tag}" if tag else str(f["container.image.repository"])
    return Alert(rule=rule, rule_id=rule_id, priority=priority, output=output, time_ns=time_ns, source=source,
                 output_fields=dict(output_fields or {}), tags=tuple(tags),
                 container_id=str(f.get("container.id") or ""), container_name=str(f.get("container.name") or ""),
                 image=str(image or ""), responses=responses)


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
