"""Which responses an alert gets: the rule's own actions plus ``ACTION:MINPRIORITY`` from the agent's configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from containerguard.errors import UsageError
from containerguard.model import Alert, Priority
from containerguard.runtime.rules.vocabulary import ACTIONS, CONTAINER_ACTIONS


def parse_respond(spec: str) -> tuple[str, Priority]:
    """``ACTION:MINPRIORITY`` (e.g. ``kill_container:CRITICAL``) -> (action, priority)."""
    action, sep, prio = spec.partition(":")
    action = action.strip().lower().replace("-", "_")
    if action not in ACTIONS:
        raise UsageError(f"--respond {spec!r}: unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if not sep:
        raise UsageError(f"--respond {spec!r}: expected ACTION:MINPRIORITY, e.g. kill_container:CRITICAL")
    try:
        return action, Priority.parse(prio)
    except KeyError:
        raise UsageError(f"--respond {spec!r}: unknown priority {prio!r}") from None


@dataclass
class ResponsePlan:
    """Which responses an alert gets: rule actions (rule name -> actions) plus minimum-priority actions."""

    by_rule: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    by_priority: list[tuple[str, Priority]] = field(default_factory=list)
    #: runtime-stage policies as code (containerguard.policy.runtime.AlertPolicies): alert -> actions
    alert_policies: Callable[[Alert], Sequence[str]] | None = None

    def responded(self, alert: Alert, outcomes: tuple[str, ...]) -> None:
        """Tell the alert policies what was done about ``alert`` (they report their decision with it)."""
        hook = getattr(self.alert_policies, "responded", None)
        if hook is not None:
            hook(alert, outcomes)

    def actions_for(self, alert: Alert) -> list[str]:
        """The responses for ``alert``, in order: process actions, then the strongest container action."""
        out: list[str] = []
        # Alert.responses holds the rule's requested actions until the responder replaces them with outcomes
        for a in (*self.by_rule.get(alert.rule, ()), *alert.responses):
            if a in ACTIONS and a != "alert" and a not in out:
                out.append(a)
        for a, minp in self.by_priority:
            if alert.priority >= minp and a != "alert" and a not in out:
                out.append(a)
        for a in self.alert_policies(alert) if self.alert_policies is not None else ():
            if a in ACTIONS and a != "alert" and a not in out:
                out.append(a)
        # the strongest container action wins; killing the process first is still worth it
        strongest = [a for a in reversed(CONTAINER_ACTIONS) if a in out]
        return [a for a in out if a not in CONTAINER_ACTIONS] + strongest[:1]

    @classmethod
    def from_rules(cls, rules: Iterable[Any], by_priority: list[tuple[str, Priority]],
                   alert_policies: Callable[[Alert], Sequence[str]] | None = None) -> ResponsePlan:
        """A plan from the rules' ``containerguard.actions`` plus the configured minimum-priority actions."""
        by_rule = {str(r.name): tuple(r.actions) for r in rules if getattr(r, "actions", ())}
        return cls(by_rule, by_priority, alert_policies)
