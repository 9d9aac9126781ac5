"""The rules language's fixed vocabularies, each listed once: event sources, response actions, event types.

The field catalog (the fourth vocabulary) is :mod:`containerguard.runtime.rules.fields`. The sensor's own
table of traced syscalls (:data:`containerguard.runtime.sensor.script.SYSCALLS`) is how it implements a
subset of :func:`event_types`; a test keeps it inside this list.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

#: Event sources a rule may name with ``source:`` and a recorded event may carry (docs/rules.md, docs/events.md).
SOURCES: tuple[str, ...] = ("syscall", "k8s_audit", "aws_cloudtrail", "gcp_auditlog", "azure_activitylog")

#: Responses a rule (``containerguard.actions``) or ``--respond ACTION:MINPRIORITY`` may ask for.
RESPONSE_ACTIONS: tuple[str, ...] = ("kill_process", "pause_container", "stop_container", "kill_container")
#: The responses that act on the whole container through the Engine API (strongest last).
CONTAINER_ACTIONS: tuple[str, ...] = ("pause_container", "stop_container", "kill_container")
#: Every action name ``--respond`` accepts: ``alert`` (emit only) and the responses.
ACTIONS: tuple[str, ...] = ("alert", *RESPONSE_ACTIONS)


@functools.cache
def event_types() -> frozenset[str]:
    """Every ``evt.type`` a syscall rule may test: Linux syscall names plus the non-syscall event types
    (``container``, ``procexit``, ...), from event_types.json beside this module."""
    doc = json.loads(resources.files(__package__).joinpath("event_types.json").read_text(encoding="utf-8"))
    return frozenset(doc["syscalls"]) | frozenset(doc["other"])
