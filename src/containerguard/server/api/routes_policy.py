"""Policies as code: violations reported by enforcement points, listed and counted per policy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from containerguard.server.api.deps import require, tx
from containerguard.server.services import policies as svc
from containerguard.server.services.audit import Actor

router = APIRouter()


class ViolationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    policy: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=255)
    severity: str = Field(max_length=16)
    action: str = Field(max_length=24)
    subject: str = Field(max_length=1024)
    message: str = Field(max_length=8000)
    remediation: str = Field(default="", max_length=8000)
    details: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=200)
    error: str = Field(default="", max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stage: Literal["build", "deploy", "runtime"]
    source: Literal["scan", "admission", "authz", "agent", "cli"]
    image_name: str = Field(default="", max_length=512)
    image_digest: str = Field(default="", max_length=80, pattern=r"^(sha256:[0-9a-f]{64})?$")
    violations: list[ViolationIn] = Field(max_length=5000)


@router.post("/policy/decisions", status_code=201, summary="Record the violations of one policy decision")
def record_decision(request: Request, body: DecisionIn,
                    actor: Annotated[Actor, Depends(require("scans:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        n = svc.record(s, actor, stage=body.stage, source=body.source, image_name=body.image_name,
                       image_digest=body.image_digest, violations=[v.model_dump() for v in body.violations])
    return {"recorded": n}


@router.get("/policy/violations", summary="Policy violations, newest first")
def list_violations(request: Request, _: Annotated[Actor, Depends(require("findings:read"))],
                    policy: str = "", stage: str = "", image_digest: str = "",
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    with tx(request) as s:
        return [svc.as_dict(v) for v in svc.listing(s, policy=policy, stage=stage, image_digest=image_digest,
                                                     limit=limit)]


@router.get("/policy/summary", summary="Violations per policy and action")
def violation_summary(request: Request, _: Annotated[Actor, Depends(require("findings:read"))]) -> list[dict[str, Any]]:
    with tx(request) as s:
        return svc.summary(s)
