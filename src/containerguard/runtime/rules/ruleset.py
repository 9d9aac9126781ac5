"""The compiled ruleset: rules indexed by event type (syscall source) or by source, and alert building."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from containerguard.model import Alert, Event, Priority
from containerguard.runtime.rules.alerts import build_alert
from containerguard.runtime.rules.ast import FieldRef, Node
from containerguard.runtime.rules.compiler import CodeGen, DispatchFn, Tail, build_dispatch, build_getter


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule after loading. ``id`` is its ``containerguard.id`` (or its name when it has none)."""

    name: str
    id: str
    priority: Priority
    tags: tuple[str, ...]
    source: str
    enabled: bool
    actions: tuple[str, ...] = ()
    desc: str = ""
    condition: str = ""
    output: str = ""
    file: str = ""
    line: int = 0
    disabled_reason: str = ""
    #: evt.type values the rule can match; None when it runs on every event type (or is not a syscall rule)
    event_types: frozenset[str] | None = None
    fields: frozenset[str] = frozenset()
    #: what disables it on this host: condition fields no source supplies, and ``evt.type=X`` for event types the
    #: sensor cannot report (when it can report none of the rule's)
    missing: tuple[str, ...] = ()


@dataclass
class _Compiled:
    node: Node
    output_parts: list[str | int]
    output_refs: list[FieldRef]
    getter: Any = None
    #: the output_fields keys: each field as written in the output format (Falco's spelling)
    field_names: tuple[str, ...] = field(default=())


def _text(v: Any) -> str:
    if v is None:
        return "<NA>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ",".join(_text(x) for x in v)
    if isinstance(v, bytes):
        return printable(v)
    if isinstance(v, dict):
        return " ".join(f"{k}={_text(x)}" for k, x in v.items())
    return str(v)


def printable(data: bytes) -> str:
    """A data buffer as Falco prints it by default: printable ASCII as is, every other byte as '.'."""
    return data.translate(_PRINTABLE).decode("ascii")


_PRINTABLE = bytes(c if 0x20 <= c < 0x7F else 0x2E for c in range(256))


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return printable(v)
    if isinstance(v, tuple):
        return list(v)
    return v


class RuleSet:
    """Compiled rules. ``evaluate(event)`` returns the alerts of every enabled rule the event matches."""

    def __init__(self, compiled: list[tuple[CompiledRule, _Compiled | None]], gen: CodeGen, warnings: list[str],
                 paths: list[str], available_fields: set[str] | None) -> None:
        self.rules: list[CompiledRule] = [cr for cr, _ in compiled]
        self.warnings = warnings
        self.paths = paths
        self.available_fields = available_fields
        self.traced_event_types: set[str] | None = None
        #: the minimum priority it was loaded with (rules less severe are not run; kept by a reload)
        self.min_priority: Priority | None = None
        #: evaluation errors per rule name (a recorded field of the wrong type, ...): the rule did not match
        self.eval_errors: Counter[str] = Counter()
        self._comp: list[_Compiled | None] = [c for _, c in compiled]
        gen.ns["_err"] = self._count_error
        active = [i for i, (cr, c) in enumerate(compiled) if cr.enabled and c is not None]
        for i in active:
            c = self._comp[i]
            assert c is not None
            c.getter = build_getter(gen, c.output_refs)
        syscall = [i for i in active if self.rules[i].source == "syscall"]
        types: set[str] = set()
        for i in syscall:
            et = self.rules[i].event_types
            if et is not None:
                types |= et
        self.event_types: set[str] = types
        #: True when some enabled rule has no evt.type restriction (the sensor must then report every type)
        self.all_event_types = any(self.rules[i].event_types is None for i in syscall)
        self.fields_used: set[str] = set()
        for i in active:
            self.fields_used |= self.rules[i].fields

        def conds(idx: list[int]) -> list[tuple[int, Node]]:
            out = []
            for i in idx:
                c = self._comp[i]
                assert c is not None
                out.append((i, c.node))
            return out

        self._gen = gen
        self._syscall = syscall
        self._conds = conds
        self._by_type: dict[str, DispatchFn] = {}
        for t in sorted(types):
            idx = [i for i in syscall if self.rules[i].event_types is None or t in (self.rules[i].event_types or ())]
            self._by_type[t] = build_dispatch(gen, t, conds(idx), t)
        unrestricted = [i for i in syscall if self.rules[i].event_types is None]
        self._fallback: DispatchFn | None = build_dispatch(gen, "*", conds(unrestricted), None) if unrestricted else None
        self._by_source: dict[str, DispatchFn] = {}
        for src in sorted({self.rules[i].source for i in active} - {"syscall"}):
            idx = [i for i in active if self.rules[i].source == src]
            self._by_source[src] = build_dispatch(gen, src, conds(idx), None)

    def enabled_conditions(self) -> list[Node]:
        """The compiled condition trees (macros expanded, lists resolved) of the enabled rules."""
        return [c.node for cr, c in zip(self.rules, self._comp, strict=True) if cr.enabled and c is not None]

    def _count_error(self, i: int) -> None:
        self.eval_errors[self.rules[i].name] += 1

    @property
    def enabled_rules(self) -> list[CompiledRule]:
        """The rules that are enabled (and compiled)."""
        return [r for r in self.rules if r.enabled]

    def fused_namespace(self) -> dict[str, Any]:
        """A namespace for a set of fused dispatch functions (:meth:`fused_dispatch`): the rules' globals, to which
        the detectors' checks add their objects without reaching the rules' own namespace."""
        return dict(self._gen.ns)

    def fused_dispatch(self, event_type: str, tails: list[Tail], ns: dict[str, Any] | None = None) -> DispatchFn:
        """The dispatch function of syscall events of ``event_type`` with detectors' checks fused after the rules:
        it returns the matching rules' indexes, then the marks of the checks that say their detector must see the
        event. Fields the rules and the checks both read are read once. ``ns``: the namespace (from
        :meth:`fused_namespace`) to define it in, shared by the fused functions of one evaluator (one copy of the
        rules' globals per evaluator, not one per event type)."""
        et = event_type
        idx = [i for i in self._syscall if self.rules[i].event_types is None or et in (self.rules[i].event_types or ())]
        return build_dispatch(self._gen, f"{et}+detectors", self._conds(idx), et, tails, ns)

    @property
    def dispatch_by_type(self) -> dict[str, DispatchFn]:
        """Syscall event type -> its dispatch function (types not listed use :attr:`fallback`)."""
        return dict(self._by_type)

    @property
    def fallback(self) -> DispatchFn | None:
        """The dispatch function of syscall event types no rule names (rules without an evt.type restriction)."""
        return self._fallback

    def alerts(self, hits: Sequence[int], event: Event) -> list[Alert]:
        """The alerts of the rules with indexes ``hits`` (a dispatch function's result) for ``event``."""
        return [self._alert(i, event) for i in hits]

    def evaluate(self, event: Event) -> list[Alert]:
        """Alerts for ``event``, in rule order."""
        if event.source == "syscall":
            fn = self._by_type.get(event.type, self._fallback)
        else:
            fn = self._by_source.get(event.source)
        if fn is None:
            return []
        hits = fn(event.fields, event.type, event.time_ns)
        if not hits:
            return []
        return [self._alert(i, event) for i in hits]

    def _alert(self, i: int, event: Event) -> Alert:
        rule = self.rules[i]
        c = self._comp[i]
        assert c is not None
        f = event.fields
        try:
            values = c.getter(f, event.type, event.time_ns)
        except Exception:  # a malformed recorded field must not lose the alert
            values = (None,) * len(c.output_refs)
        text = "".join(p if isinstance(p, str) else _text(values[p]) for p in c.output_parts)
        return build_alert(
            rule=rule.name, rule_id=rule.id, priority=rule.priority, output=text, time_ns=event.time_ns,
            source=event.source, event_fields=f, tags=rule.tags, responses=rule.actions,
            output_fields={n: _jsonable(v) for n, v in zip(c.field_names, values, strict=True)},
        )
