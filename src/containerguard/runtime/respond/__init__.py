"""Responses to alerts: kill the process, or pause, stop or kill its container through the Engine API.

Which responses run is decided per alert by a :class:`ResponsePolicy`: the rule's own actions
(``containerguard.actions`` in the rules file) plus any ``ACTION:MINPRIORITY`` from the agent's
configuration. Every response returns an outcome string (``kill_container 3f2a9c0e1b7d: ok``,
``kill_process 4242: error: No such process``) that is added to the alert and to the output.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from containerguard.errors import UsageError
from containerguard.model import Alert, Event, Priority

log = logging.getLogger(__name__)

ACTIONS = ("alert", "kill_process", "pause_container", "stop_container", "kill_container")
CONTAINER_ACTIONS = ("pause_container", "stop_container", "kill_container")


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
class ResponsePolicy:
    """Rule actions (rule name -> actions) plus minimum-priority actions."""

    by_rule: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    by_priority: list[tuple[str, Priority]] = field(default_factory=list)

    def actions_for(self, alert: Alert) -> list[str]:
        out: list[str] = []
        # Alert.responses holds the rule's requested actions until the responder replaces them with outcomes
        for a in (*self.by_rule.get(alert.rule, ()), *alert.responses):
            if a in ACTIONS and a != "alert" and a not in out:
                out.append(a)
        for a, minp in self.by_priority:
            if alert.priority >= minp and a != "alert" and a not in out:
                out.append(a)
        # the strongest container action wins; killing the process first is still worth it
        strongest = [a for a in ("kill_container", "stop_container", "pause_container") if a in out]
        return [a for a in out if a not in CONTAINER_ACTIONS] + strongest[:1]

    @classmethod
    def from_rules(cls, rules: Iterable[Any], by_priority: list[tuple[str, Priority]]) -> ResponsePolicy:
        by_rule = {str(r.name): tuple(r.actions) for r in rules if getattr(r, "actions", ())}
        return cls(by_rule, by_priority)


class Responder:
    """Carries out responses. ``api`` is docker's low-level APIClient (None: container actions fail)."""

    def __init__(self, api: Any | None, *, stop_timeout: int = 2) -> None:
        self.api = api
        self.stop_timeout = stop_timeout
        self.done = 0
        self.failed = 0

    def run(self, action: str, alert: Alert, event: Event) -> str:
        """Carry out one action for this alert; returns its outcome line (never raises)."""
        try:
            if action == "kill_process":
                pid = int(event.fields.get("proc.pid") or 0)
                if pid <= 1:
                    raise ValueError("no process id in the event")
                os.kill(pid, signal.SIGKILL)
                outcome = f"kill_process {pid}: ok"
            elif action in CONTAINER_ACTIONS:
                cid = str(event.fields.get("container.full_id") or event.fields.get("container.id") or "")
                if not cid or cid == "host":
                    raise ValueError("the event is not from a container")
                if self.api is None:
                    raise ValueError("no Docker Engine connection")
                if action == "pause_container":
                    self.api.pause(cid)
                elif action == "stop_container":
                    self.api.stop(cid, timeout=self.stop_timeout)
                else:
                    self.api.kill(cid)
                outcome = f"{action} {cid[:12]}: ok"
            else:
                raise ValueError(f"unknown action {action!r}")
        except Exception as exc:
            self.failed += 1
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            outcome = f"{action}: error: {msg}"
            log.warning("response for %r failed: %s", alert.rule, outcome)
            return outcome
        self.done += 1
        log.info("response for %r: %s", alert.rule, outcome)
        return outcome
