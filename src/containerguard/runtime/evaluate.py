"""The evaluate stage: Event -> Alerts. The one evaluation path the agent and ``rules replay`` share.

An :class:`Evaluator` holds the current :class:`RuleSet` (swapped whole on reload, so an event is evaluated
against one ruleset, never half of two) and the further detectors that run on the same events (behavioural
baselines). :func:`replay_events` reads recorded events and Kubernetes audit logs for replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol

from containerguard.errors import UsageError
from containerguard.model import Alert, Event
from containerguard.runtime.events import ReadStats, read_events
from containerguard.runtime.rules import RuleSet
from containerguard.runtime.rules.compiler import DispatchFn, Splice, Tail
from containerguard.runtime.sensor import script


class Detector(Protocol):
    """A detector beside the rules (behavioural baselines): sees the events of its types, returns its alerts."""

    event_types: frozenset[str]

    def detect(self, event: Event) -> list[Alert]:
        """Alerts for one event (usually none)."""
        ...

    def fast_path(self, event_type: str, code: Splice) -> str | None:
        """Python expression source, built with ``code``, that is false only for events of ``event_type`` that
        ``detect`` would neither alert on nor learn from (the steady state); None: ``detect`` sees every event of
        the type. The evaluator fuses it into the rules' code for the type, sharing their field reads."""
        ...


class Evaluator:
    """Rules (and detectors) over events. ``evaluate(event)`` returns the alerts, rules first.

    With detectors, the rules' code for each event type a detector watches is compiled again with the detector's
    fast-path test appended (:meth:`RuleSet.fused_dispatch`): one call per event evaluates both, fields read by
    both are read once, and ``detect`` runs only for the events the test lets through. Event types no detector
    watches run the rules' own code unchanged.
    """

    def __init__(self, ruleset: RuleSet, detectors: Iterable[Detector] = ()) -> None:
        self.detectors: list[Detector] = list(detectors)
        self.ruleset = ruleset
        self.types: frozenset[str] = frozenset()
        self.all_types = False
        #: syscall event type -> its (fused) dispatch function; then the fallback, and the detectors by mark
        self._by_type: dict[str, DispatchFn] = {}
        self._fallback: DispatchFn | None = None
        self._marked: list[Callable[[Event], list[Alert]]] = []
        #: event type -> the detectors that watch it, for events of other sources (no fused code)
        self._detect_by_type: dict[str, list[Callable[[Event], list[Alert]]]] = {}
        self.use(ruleset)

    def use(self, ruleset: RuleSet) -> None:
        """Switch to another ruleset (a reload)."""
        by_type = ruleset.dispatch_by_type
        tails: dict[str, list[Tail]] = {}
        marked: list[Callable[[Event], list[Alert]]] = []
        detect_by_type: dict[str, list[Callable[[Event], list[Alert]]]] = {}
        for d in self.detectors:
            for t in sorted(d.event_types):
                marked.append(d.detect)
                tails.setdefault(t, []).append((-len(marked), partial(d.fast_path, t)))
                detect_by_type.setdefault(t, []).append(d.detect)
        fused_ns = ruleset.fused_namespace()
        for t, ts in tails.items():
            by_type[t] = ruleset.fused_dispatch(t, ts, fused_ns)
        # swapped together, after everything is built: an event sees one ruleset, never half of two
        self.ruleset, self._by_type, self._fallback = ruleset, by_type, ruleset.fallback
        self._marked, self._detect_by_type = marked, detect_by_type
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
        if event.source != "syscall":
            return self._evaluate_other(event)
        fn = self._by_type.get(event.type, self._fallback)
        if fn is None:
            return []
        hits = fn(event.fields, event.type, event.time_ns)
        if not hits:
            return []
        if hits[-1] >= 0:  # rules only (detectors' marks are negative and come last)
            return self.ruleset.alerts(hits, event)
        alerts = self.ruleset.alerts([i for i in hits if i >= 0], event)
        for i in hits:
            if i < 0:
                alerts.extend(self._marked[-1 - i](event))
        return alerts

    def _evaluate_other(self, event: Event) -> list[Alert]:
        alerts = self.ruleset.evaluate(event)
        for detect in self._detect_by_type.get(event.type, ()):
            alerts.extend(detect(event))
        return alerts


def replay_events(event_files: Iterable[Path], audit_files: Iterable[Path], *, strict: bool,
                  stats: ReadStats) -> Iterator[Event]:
    """Recorded events (JSON lines, docs/events.md), then Kubernetes audit logs, in file order."""
    for path in event_files:
        yield from read_events(path, strict=strict, stats=stats)
    for path in audit_files:
        yield from _audit_file(path, strict=strict, stats=stats)


def _audit_file(path: Path, *, strict: bool, stats: ReadStats) -> Iterator[Event]:
    """A Kubernetes audit log as the API server's log backend writes it (one Event per line, gzip once rotated),
    or an Event, EventList or array document: the same reader as ``--source k8s_audit``. A malformed line or
    event is counted and named (file and line or record); ``strict`` stops there."""
    from containerguard.runtime.cloud.health import SourceHealth
    from containerguard.runtime.cloud.reader import read_file
    from containerguard.runtime.k8saudit import AuditFormatError, K8sAuditParser

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    health = SourceHealth(str(path), "k8s_audit")
    for ev in read_file(path, K8sAuditParser(), health):
        if strict and health.parse_errors:
            break
        stats.read += 1
        yield ev
    if health.parse_errors and strict:
        raise AuditFormatError(f"malformed input: {health.recent_warnings[0]}")
    stats.skipped += health.parse_errors
    stats.errors.extend(list(health.recent_warnings)[: max(0, 20 - len(stats.errors))])
