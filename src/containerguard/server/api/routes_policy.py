"""Policies as code: decisions and violations reported by enforcement points (listed, filtered, counted per
policy), the enforcement points themselves, and the policy set the server holds (push, list, fetch)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from containerguard.server.api.deps import require, tx
from containerguard.server.api.strict import StrictRoute, clip, saturate, tolerant_text
from containerguard.server.services import policies as svc
from containerguard.server.services import policy_files
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)


class ViolationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: Annotated[str, clip(512), Field(default="", max_length=512,
                                           description="the image of the container it is about")]

    policy: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=255)
    severity: str = Field(max_length=16)
    action: str = Field(max_length=24)
    subject: Annotated[str, clip(1024), Field(max_length=1024)]
    message: Annotated[str, clip(8000), Field(max_length=8000)]
    remediation: Annotated[str, clip(8000), Field(max_length=8000)] = ""
    details: Annotated[list[Annotated[str, clip(2000), Field(max_length=2000)]], clip(200),
                       Field(default_factory=list, max_length=200)]
    error: Annotated[str, clip(4000), Field(max_length=4000)] = ""


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stage: Literal["build", "deploy", "runtime"]
    source: Literal["scan", "admission", "authz", "agent", "cli"]
    image_name: str = Field(default="", max_length=512)
    image_digest: str = Field(default="", max_length=80, pattern=r"^(sha256:[0-9a-f]{64})?$")
    violations: list[ViolationIn] = Field(max_length=5000)


Id = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Short = Annotated[str, clip(255), Field(default="", max_length=255)]
Count = Annotated[int, saturate(), Field(ge=0)]


class ObjectIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    namespace: Short = ""
    kind: Annotated[str, Field(default="", max_length=64)] = ""
    name: Short = ""
    container: Short = ""
    image: Annotated[str, clip(512), Field(default="", max_length=512)] = ""
    host: Short = ""
    operation: Annotated[str, Field(default="", max_length=16)] = ""
    rule: Short = ""


class ReportedDecisionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    uid: Id
    time: dt.datetime
    stage: Literal["deploy", "runtime"]
    allowed: bool
    mode: Literal["enforce", "warn", "dry-run"] = "enforce"
    object: ObjectIn = Field(default_factory=ObjectIn)
    user: Short = ""
    violations: list[ViolationIn] = Field(max_length=1000)
    responses: Annotated[list[Annotated[str, clip(1000), Field(max_length=1000)]], clip(20),
                         Field(default_factory=list, max_length=20)]


class Counts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    allowed: Count = 0
    denied: Count = 0
    warned: Count = 0


class ReportBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: Id
    source: Literal["admission", "authz", "agent"]
    instance: str = Field(min_length=1, max_length=255)
    version: str = Field(default="", max_length=64)
    policy_set: str = Field(default="", max_length=64)
    counts: Counts = Field(default_factory=Counts)
    dropped: Count = 0
    decisions: list[ReportedDecisionIn] = Field(default_factory=list, max_length=5000)


@router.post("/policy/reports", summary="A batch of decisions from an admission webhook, Docker plugin or agent")
@tolerant_text
async def policy_report(request: Request, body: ReportBatchIn,
                        actor: Annotated[Actor, Depends(require("policy:report"))]) -> dict[str, Any]:
    """Idempotent: a ``batch_id`` this reporter already sent is acknowledged (``duplicate``) and stores nothing.
    Agent tokens report for their own host only (``source`` agent, ``instance`` = the host); enforcer tokens
    for the admission webhook and the Docker plugin."""
    if actor.role == "agent" and (body.source != "agent" or (actor.host and body.instance != actor.host)):
        raise HTTPException(403, f"this agent token reports its own host's ({actor.host!r}) runtime decisions only")
    if actor.role == "enforcer" and body.source == "agent":
        raise HTTPException(403, "an enforcer token reports admission and authz decisions; agents use agent tokens")
    if actor.host and actor.role == "enforcer" and body.instance != actor.host:
        raise HTTPException(403, f"this token reports for {actor.host!r}, not {body.instance[:100]!r}")
    batch = body.model_dump()
    for d in batch["decisions"]:
        if d["time"].tzinfo is None:
            d["time"] = d["time"].replace(tzinfo=dt.UTC)

    def work() -> svc.IngestResult:
        with tx(request) as s:
            return svc.ingest(s, actor, batch)

    res = await run_in_threadpool(work)
    return {"ack": res.batch_id, "duplicate": res.duplicate, "decisions": res.decisions, "violations": res.violations}


@router.post("/policy/decisions", status_code=201, summary="Record the violations of one policy decision")
def record_decision(request: Request, body: DecisionIn,
                    actor: Annotated[Actor, Depends(require("scans:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        n = svc.record(s, actor, stage=body.stage, source=body.source, image_name=body.image_name,
                       image_digest=body.image_digest, violations=[v.model_dump() for v in body.violations])
    return {"recorded": n}


@router.get("/policy/violations", summary="Policy violations, newest first")
def list_violations(request: Request, _: Annotated[Actor, Depends(require("findings:read"))],
                    policy: str = "", stage: Literal["", "build", "deploy", "runtime"] = "",
                    source: Literal["", "scan", "admission", "authz", "agent", "cli"] = "",
                    action: Annotated[str, Query(max_length=24)] = "",
                    namespace: Annotated[str, Query(max_length=255)] = "", image_digest: str = "",
                    decision: Literal["", "denied", "allowed"] = "", since: dt.datetime | None = None,
                    before_id: int | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Filters: policy id, stage, source (enforcement point), action, namespace, image digest, decision
    (``denied``: the enforcement point refused or acted; ``allowed``), since (ISO time). Paging: ``before_id``
    = the last id of the previous page."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    f = svc.Filters(policy=policy[:64], stage=stage, source=source, action=action, namespace=namespace,
                    image_digest=image_digest[:80], decision=decision, since=since)
    with tx(request) as s:
        return [svc.as_dict(v) for v in svc.listing(s, filters=f, before_id=before_id, limit=limit)]


@router.get("/policy/enforcers", summary="Enforcement points that report decisions, with their counts")
def list_enforcers(request: Request, _: Annotated[Actor, Depends(require("findings:read"))]) -> list[dict[str, Any]]:
    with tx(request) as s:
        return svc.enforcers(s)


class PolicyFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    text: str = Field(max_length=4 * 1024 * 1024)


class PolicySetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[PolicyFileIn] = Field(max_length=policy_files.MAX_FILES)


@router.put("/policies", summary="Replace the policy set the server holds (validated first)")
def push_policies(request: Request, body: PolicySetIn,
                  actor: Annotated[Actor, Depends(require("policies:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return policy_files.push(s, actor, [(f.name, f.text) for f in body.files])


@router.get("/policies", summary="The policy set the server holds, as enforcement points load it")
def list_server_policies(request: Request, _: Annotated[Actor, Depends(require("policies:read"))]) -> dict[str, Any]:
    with tx(request) as s:
        return policy_files.listing(s)


def _etag_matches(header: str, rev: str) -> bool:
    """If-None-Match (RFC 9110 13.1.2): ``*`` or a list of entity tags, weak ones compared weakly."""
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/").strip('"') == rev for t in tags if t)


@router.get("/policies/bundle", summary="The policy files, for --policy-from-server (ETag: the revision)")
def policy_bundle(request: Request, response: Response, _: Annotated[Actor, Depends(require("policies:read"))],
                  if_none_match: Annotated[str | None, Header()] = None) -> Any:
    with tx(request) as s:
        rev = policy_files.revision(s)
        if if_none_match is not None and _etag_matches(if_none_match, rev):
            return Response(status_code=304, headers={"ETag": f'"{rev}"'})
        b = policy_files.bundle(s)
    response.headers["ETag"] = f'"{b["revision"]}"'
    return {"revision": b["revision"], "pushed_at": b["pushed_at"].isoformat() if b["pushed_at"] else None,
            "files": b["files"]}


@router.get("/policy/summary", summary="Violations per policy and action")
def violation_summary(request: Request, _: Annotated[Actor, Depends(require("findings:read"))]) -> list[dict[str, Any]]:
    with tx(request) as s:
        return svc.summary(s)
