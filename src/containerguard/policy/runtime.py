"""Runtime-stage policies over the agent's alerts, wired into its responses.

:class:`AlertPolicies` is the callable the agent's :class:`~containerguard.runtime.respond.ResponsePlan`
asks for each alert: the runtime policies are evaluated over the alert's document (docs/policies.md) and
the container actions of the violated ones (kill_process, pause/stop/kill_container) are returned for the
responder to run. Violations of every action are logged; an evaluation error is logged and, for a
fail-closed policy, its action runs (never silently allowed).
"""

from __future__ import annotations

import json
import logging

from containerguard.model import Alert
from containerguard.policy import inputs
from containerguard.policy.engine import PolicySet
from containerguard.policy.model import Action, Decision, Stage

log = logging.getLogger("containerguard.policy.runtime")

RESPONSES = frozenset({Action.KILL_PROCESS, Action.PAUSE_CONTAINER, Action.STOP_CONTAINER, Action.KILL_CONTAINER})


class AlertPolicies:
    """alert -> the response actions its runtime policies ask for."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.violations = 0

    def decide(self, alert: Alert) -> Decision:
        subject = f"container {alert.container_name or alert.container_id or 'host'}"
        return self.policies.evaluate(inputs.from_alert(alert), Stage.RUNTIME, subject=subject)

    def __call__(self, alert: Alert) -> list[str]:
        if not self.policies.for_stage(Stage.RUNTIME):
            return []
        decision = self.decide(alert)
        for w in decision.warnings:
            log.warning("%s", w)
        if decision.violations:
            self.violations += len(decision.violations)
            log.info(json.dumps({"alert": alert.rule, "container": alert.container_id,
                                 "violations": [v.to_dict() for v in decision.violations]}))
        return [str(v.action) for v in decision.violations if v.action in RESPONSES]
