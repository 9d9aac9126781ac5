"""The evaluate stage: Event -> Alerts. The one evaluation path the agent and ``rules replay`` share.

An :class:`Evaluator` holds the current :class:`RuleSet` (swapped whole on reload, so an event is evaluated
against one ruleset, never half of two) and the further detectors that run on the same events (behavioural
baselines). :func:`replay_events` reads recorded events and Kubernetes audit logs for replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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

    def handler(self, event_type: str) -> Callable[[Event], list[Alert]]:
        """``detect`` for events of one type (it may be specialised per type); looked up once per type."""
        ...


class Evaluator:
    """Rules (and detectors) over events. ``evaluate(event)`` returns the alerts, rules first."""

    def __init__(self, ruleset: RuleSet, detectors: Iterable[Detector] = ()) -> None:
        self.detectors: list[Detector] = list(detectors)
        #: event type -> the detectors' check for it (one dict look-up and one call per event)
        self._detect_by_type: dict[str, Callable[[Event], list[Alert]]] = {}
        self.ruleset = ruleset
        self.types: frozenset[str] = frozenset()
        self.all_types = False
        self.use(ruleset)

    def use(self, ruleset: RuleSet) -> None:
        """Switch to another ruleset (a reload)."""
        self.ruleset = ruleset
        self.types = frozenset(ruleset.event_types).union(*(d.event_types for d in self.detectors))
        self.all_types = bool(ruleset.all_event_types)
        by_type: dict[str, list[Callable[[Event], list[Alert]]]] = {}
        for d in self.detectors:
            for t in d.event_types:
                by_type.setdefault(t, []).append(d.handler(t))
        self._detect_by_type = {t: hs[0] if len(hs) == 1 else _chain(hs) for t, hs in by_type.items()}

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
        detect = self._detect_by_type.get(event.type)
        if detect is not None:
            more = detect(event)
            if more:
                alerts = [*alerts, *more]
        return alerts


def _chain(handlers: list[Callable[[Event], list[Alert]]]) -> Callable[[Event], list[Alert]]:
    """Several detectors' checks of one event type as one, their alerts in detector order."""
    def run(event: Event) -> list[Alert]:
        out: list[Alert] = []
        for h in handlers:
            out.extend(h(event))
        return out
    return run


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
