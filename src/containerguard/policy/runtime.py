"""Runtime-stage policies over the agent's alerts, wired into its responses.

:class:`AlertPolicies` is the callable the agent's :class:`~containerguard.runtime.respond.ResponsePlan`
asks for each alert: the runtime policies are evaluated over the alert's document (docs/policies.md) and
the container actions of the violated ones (kill_process, pause/stop/kill_container) are returned for the
responder to run. Violations of every action are logged; an evaluation error is logged and, for a
fail-closed policy, its action runs (never silently allowed).

With a ``reporter`` (``agent --policy --server``), each decision with violations is reported to the central
server once the responses have run (:meth:`AlertPolicies.responded`), with their outcomes
(``kill_container 3f2a9c0e1b7d: ok``): the server shows what was done, not only what was asked.
"""

from __future__ import annotations

import json
import logging
import threading

from containerguard.model import Alert
from containerguard.policy import inputs
from containerguard.policy.engine import PolicySet
from containerguard.policy.loader import LivePolicies, current_set
from containerguard.policy.model import Action, Decision, Stage
from containerguard.policy.reporting import DecisionReporter, Report

log = logging.getLogger("containerguard.policy.runtime")

RESPONSES = frozenset({Action.KILL_PROCESS, Action.PAUSE_CONTAINER, Action.STOP_CONTAINER, Action.KILL_CONTAINER})


class AlertPolicies:
    """alert -> the response actions its runtime policies ask for."""

    def __init__(self, policies: PolicySet | LivePolicies, reporter: DecisionReporter | None = None, host: str = "") -> None:
        self.policies = policies
        self.violations = 0
        self.reporter = reporter
        self.host = host
        #: decisions waiting for their responses' outcomes (keyed by the alert object: the same one is responded)
        self._pending: dict[int, tuple[Alert, Decision]] = {}
        self._lock = threading.Lock()

    def decide(self, alert: Alert) -> Decision:
        subject = f"container {alert.container_name or alert.container_id or 'host'}"
        return current_set(self.policies).evaluate(inputs.from_alert(alert), Stage.RUNTIME, subject=subject)

    def __call__(self, alert: Alert) -> list[str]:
        if not current_set(self.policies).for_stage(Stage.RUNTIME):
            return []
        decision = self.decide(alert)
        for w in decision.warnings:
            log.warning("%s", w)
        if decision.violations:
            self.violations += len(decision.violations)
            log.info(json.dumps({"alert": alert.rule, "container": alert.container_id,
                                 "violations": [v.to_dict() for v in decision.violations]}))
            if self.reporter is not None:
                with self._lock:
                    if len(self._pending) > 10_000:  # never responded (cannot happen in the agent): bounded anyway
                        self._pending.clear()
                    self._pending[id(alert)] = (alert, decision)
        return [str(v.action) for v in decision.violations if v.action in RESPONSES]

    def responded(self, alert: Alert, outcomes: tuple[str, ...]) -> None:
        """The responses to ``alert`` ran: report its decision with their outcomes."""
        if self.reporter is None:
            return
        with self._lock:
            pending = self._pending.pop(id(alert), None)
        if pending is None or pending[0] is not alert:
            return
        decision = pending[1]
        blocked = any(v.action in RESPONSES for v in decision.violations)
        self.reporter.record(Report(
            decision, allowed=not blocked, mode="enforce",
            obj={"kind": "container", "container": alert.container_id, "name": alert.container_name,
                 "image": alert.image, "host": self.host, "rule": alert.rule,
                 "namespace": str(alert.output_fields.get("k8s.ns.name") or "")},
            images={v.subject: alert.image for v in decision.violations}, responses=outcomes))
