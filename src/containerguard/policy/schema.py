"""The policy file format, validated at the edge with pydantic (then turned into frozen dataclasses).

A file holds one policy (a mapping with ``id``) or ``policies:`` (a list of them); optionally
``apiVersion: containerguard.dev/v1`` and ``kind: PolicySet``. Unknown keys are errors: a misspelled key
must not silently weaken a policy.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from containerguard.policy.model import ACTION_ALIASES, STAGE_ACTIONS, Action, Stage

API_VERSION = "containerguard.dev/v1"
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{1,63}$")
SEVERITIES = ("critical", "high", "medium", "low", "info")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScopeSpec(_Strict):
    registries: list[str] = Field(default_factory=list)
    repositories: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class ExclusionSpec(_Strict):
    reason: str = Field(min_length=1)
    images: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)
    expires: dt.date | None = None

    @model_validator(mode="after")
    def _selects(self) -> ExclusionSpec:
        if not (self.images or self.namespaces or self.workloads):
            raise ValueError("an exclusion needs images, namespaces or workloads (it would exclude everything)")
        return self


class PolicySpec(_Strict):
    id: str
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    severity: Literal["critical", "high", "medium", "low", "info"]
    condition: str = Field(min_length=1)
    enforcement: dict[Stage, str]
    rationale: str = ""
    remediation: str = ""
    details: str = ""
    scope: ScopeSpec = Field(default_factory=ScopeSpec)
    exclusions: list[ExclusionSpec] = Field(default_factory=list)
    on_error: Literal["fail-closed", "fail-open"] = "fail-closed"
    params: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("an id is 2-64 letters, digits, '.', '_' or '-', starting with a letter")
        return v

    @field_validator("enforcement")
    @classmethod
    def _enforcement(cls, v: dict[Stage, str]) -> dict[Stage, str]:
        if not v:
            raise ValueError("enforcement names at least one stage (build, deploy, runtime)")
        out: dict[Stage, str] = {}
        for stage, raw in v.items():
            action = ACTION_ALIASES.get(raw.strip().lower(), raw.strip().lower())
            allowed = [str(a) for a in STAGE_ACTIONS[stage]]
            if action not in allowed:
                raise ValueError(f"{raw!r} is not an action of the {stage} stage (one of {', '.join(allowed)})")
            out[stage] = action
        return out


class PolicyFileSpec(_Strict):
    apiVersion: str = API_VERSION
    kind: Literal["PolicySet", "Policy"] = "PolicySet"
    policies: list[PolicySpec]

    @field_validator("apiVersion")
    @classmethod
    def _api(cls, v: str) -> str:
        if v != API_VERSION:
            raise ValueError(f"unsupported apiVersion {v!r} (expected {API_VERSION})")
        return v


def action_of(text: str) -> Action:
    return Action(ACTION_ALIASES.get(text, text))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file (for editors and for docs/policies.md)."""
    return PolicyFileSpec.model_json_schema()
