"""The policy domain: policies, their scope and exclusions, and the decisions they produce (frozen dataclasses)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Stage(enum.StrEnum):
    """Where a policy is enforced: the image in CI, the container as it is deployed, the running container."""

    BUILD = "build"
    DEPLOY = "deploy"
    RUNTIME = "runtime"


class Action(enum.StrEnum):
    """What a violation does. Which actions a stage accepts is :data:`STAGE_ACTIONS`."""

    INFORM = "inform"  # recorded and listed, nothing else
    WARN = "warn"  # shown to the person deploying or building (admission warnings, CI log)
    FAIL_BUILD = "fail-build"  # CI job fails
    DENY = "deny"  # the deployment is refused (admission, Docker authz)
    ALERT = "alert"  # runtime: the alert is raised and marked as a policy violation
    KILL_PROCESS = "kill_process"
    PAUSE_CONTAINER = "pause_container"
    STOP_CONTAINER = "stop_container"
    KILL_CONTAINER = "kill_container"


STAGE_ACTIONS: Mapping[Stage, tuple[Action, ...]] = {
    Stage.BUILD: (Action.INFORM, Action.WARN, Action.FAIL_BUILD),
    Stage.DEPLOY: (Action.INFORM, Action.WARN, Action.DENY),
    Stage.RUNTIME: (Action.INFORM, Action.WARN, Action.ALERT, Action.KILL_PROCESS, Action.PAUSE_CONTAINER,
                    Action.STOP_CONTAINER, Action.KILL_CONTAINER),
}
#: the actions that block (fail the build, refuse the deployment, act on the container)
BLOCKING: frozenset[Action] = frozenset({Action.FAIL_BUILD, Action.DENY, Action.KILL_PROCESS, Action.PAUSE_CONTAINER,
                                         Action.STOP_CONTAINER, Action.KILL_CONTAINER})
#: spelling users may use for an action
ACTION_ALIASES: Mapping[str, str] = {
    "kill": "kill_container", "stop": "stop_container", "pause": "pause_container", "fail": "fail-build",
    "fail_build": "fail-build", "block": "deny", "info": "inform", "warning": "warn",
    "kill-process": "kill_process", "kill-container": "kill_container", "stop-container": "stop_container",
    "pause-container": "pause_container",
}


class OnError(enum.StrEnum):
    """What a policy whose condition fails to evaluate does: count as violated (closed) or as passed (open).
    Either way the error is reported; it is never silently allowed."""

    FAIL_CLOSED = "fail-closed"
    FAIL_OPEN = "fail-open"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which subjects a policy applies to; an empty selector matches everything. Globs (fnmatch)."""

    registries: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)  # workload or image labels; value "*" = any


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Subjects exempt from a policy until ``expires`` (inclusive); ``reason`` is required and shown."""

    reason: str
    images: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()  # KIND/NAME globs, e.g. DaemonSet/node-exporter
    expires: dt.date | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy. ``condition`` is a CEL expression over the input document (docs/policies.md): true means
    violated. ``details`` (optional) is a CEL expression giving the offending items as a list of strings."""

    id: str
    name: str
    description: str
    severity: str  # critical, high, medium, low, info
    condition: str
    enforcement: Mapping[Stage, Action]
    rationale: str = ""
    remediation: str = ""
    details: str = ""
    scope: Scope = field(default_factory=Scope)
    exclusions: tuple[Exclusion, ...] = ()
    on_error: OnError = OnError.FAIL_CLOSED
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    enabled: bool = True
    source: str = ""  # FILE:LINE it was loaded from

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(self.enforcement)


@dataclass(frozen=True, slots=True)
class Violation:
    """A policy that matched a subject (or whose condition failed and counts by its ``on_error``)."""

    policy_id: str
    policy_name: str
    severity: str
    action: Action
    subject: str  # what was evaluated: the image, "Deployment web/api container app", a container id
    message: str  # the policy's description (plus the error text when the condition failed)
    remediation: str = ""
    details: tuple[str, ...] = ()
    error: str = ""  # the evaluation error when the condition could not be evaluated

    @property
    def blocking(self) -> bool:
        return self.action in BLOCKING

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy_id, "name": self.policy_name, "severity": self.severity,
                "action": str(self.action), "subject": self.subject, "message": self.message,
                "remediation": self.remediation, "details": list(self.details), "error": self.error}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a stage's policies over one or more input documents."""

    stage: Stage
    violations: tuple[Violation, ...] = ()
    #: evaluation errors of fail-open policies (reported, not blocking) and expired exclusions
    warnings: tuple[str, ...] = ()
    evaluated: int = 0  # policy evaluations performed

    @property
    def allowed(self) -> bool:
        """False when a violation blocks (deny, fail-build, a container action)."""
        return not any(v.blocking for v in self.violations)

    @property
    def blocking(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.blocking)

    def merge(self, other: Decision) -> Decision:
        return Decision(self.stage, self.violations + other.violations,
                        tuple(dict.fromkeys(self.warnings + other.warnings)), self.evaluated + other.evaluated)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": str(self.stage), "allowed": self.allowed, "evaluated": self.evaluated,
                "violations": [v.to_dict() for v in self.violations], "warnings": list(self.warnings)}
