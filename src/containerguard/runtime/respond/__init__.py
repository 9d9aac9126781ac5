"""Responses to alerts: kill the process, or pause, stop or kill its container (Docker Engine API or containerd).

Which responses run is decided per alert by a :class:`ResponsePlan`: the rule's own actions
(``containerguard.actions`` in the rules file) plus any ``ACTION:MINPRIORITY`` from the agent's
configuration. Every response returns an outcome string (``kill_container 3f2a9c0e1b7d: ok``,
``kill_process 4242: error: No such process``) that is added to the alert and to the output.
:class:`ResponseStage` is the agent pipeline's stage.
"""

from __future__ import annotations

from containerguard.runtime.respond.actions import ContainerControl, Responder
from containerguard.runtime.respond.plan import ResponsePlan, parse_respond
from containerguard.runtime.respond.stage import ResponseStage
from containerguard.runtime.rules.vocabulary import ACTIONS, CONTAINER_ACTIONS

__all__ = ["ACTIONS", "CONTAINER_ACTIONS", "ContainerControl", "Responder", "ResponsePlan", "ResponseStage", "parse_respond"]
