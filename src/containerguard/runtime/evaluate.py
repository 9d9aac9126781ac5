"""The evaluate stage: Event -> Alerts. The one evaluation path the agent and ``rules replay`` share.

An :class:`Evaluator` holds the current :class:`RuleSet` (swapped whole on reload, so an event is evaluated
against one ruleset, never half of two) and the further detectors that run on the same events (behavioural
baselines). :func:`replay_events` reads recorded events and Kubernetes audit logs for replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from containerguard.errors import UsageError
from containerguard.model import Alert, Event
from containerguard.runtime.events import ReadStats, read_events
from containerguard.runtime.k8saudit import AuditFormatError, parse_audit_body
from containerguard.runtime.rules import RuleSet
from containerguard.runtime.sensor import script


class Detector(Protocol):
    """A detector beside the rules (behavioural baselines): sees the events of its types, returns its alerts."""

    event_types: frozenset[str]

    def detect(self, event: Event) -> list[Alert]:
        """Alerts for one event (usually none)."""
        ...


class Evaluator:
    """Rules (and detectors) over events. ``evaluate(event)`` returns the alerts, rules first."""

    def __init__(self, ruleset: RuleSet, detectors: Iterable[Detector] = ()) -> None:
        self.detectors: list[Detector] = list(detectors)
        self.ruleset = ruleset
        self.types: frozenset[str] = frozenset()
        self.all_types = False
        self.use(ruleset)

    def use(self, ruleset: RuleSet) -> None:
        """Switch to another ruleset (a reload)."""
        self.ruleset = ruleset
        self.types = frozenset(ruleset.event_types).union(*(d.event_types for d in self.detectors))
        self.all_types = bool(ruleset.all_event_types)

    def add(self, detector: Detector) -> None:
        """Run ``detector`` on every event of its types from now on."""
        self.detectors.append(detector)
        self.use(self.ruleset)

    def wants(self, event_type: str) -> bool:
        """Whether some rule (or detector) evaluates events of this type."""
        return self.all_types or event_type in self.types

    def event_types(self) -> set[str]:
        """The event types the sensor must report for this ruleset."""
        return set(script.ALL_EVENT_TYPES) if self.all_types else set(self.types)

    def evaluate(self, event: Event) -> list[Alert]:
        """Alerts for one event: the rules' in rule order, then each detector's."""
        alerts = self.ruleset.evaluate(event)
        for detector in self.detectors:
            if event.type not in detector.event_types:
                continue
            more = detector.detect(event)
            if more:
                alerts = [*alerts, *more]
        return alerts


def replay_events(event_files: Iterable[Path], audit_files: Iterable[Path], *, strict: bool,
                  stats: ReadStats) -> Iterator[Event]:
    """Recorded events (JSON lines, docs/events.md), then Kubernetes audit logs, in file order."""
    for path in event_files:
        yield from read_events(path, strict=strict, stats=stats)
    for path in audit_files:
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            audit = parse_audit_body(body)
        except AuditFormatError as exc:
            raise AuditFormatError(f"{path}: {exc}") from None
        for ev in audit:
            stats.read += 1
            yield ev
