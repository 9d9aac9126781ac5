"""Agent reports (containers and alerts in batches, acknowledged, deduplicated), hosts, containers, alerts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from containerguard.model import Priority
from containerguard.server import metrics
from containerguard.server.api.deps import read, require, tx
from containerguard.server.api.strict import StrictRoute, clip, saturate, tolerant_text
from containerguard.server.services import hosts as svc
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)

MAX_ALERTS = 10_000
MAX_CONTAINERS = 5_000
MAX_BASELINES = 10_000


Text64 = Annotated[str, clip(64), Field(max_length=64)]
Text255 = Annotated[str, clip(255), Field(max_length=255)]
Text512 = Annotated[str, clip(512), Field(max_length=512)]
Output = Annotated[str, clip(16_384), Field(max_length=16_384)]
Count = Annotated[int, saturate(), Field(ge=0)]


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    uid: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    time: dt.datetime
    rule: Annotated[str, clip(255), Field(min_length=1, max_length=255)]
    priority: str = Field(max_length=20)
    rule_id: str = Field(default="", max_length=128)
    source: str = Field(default="syscall", max_length=32)
    output: Output = ""
    container_id: Text64 = ""
    container_name: Text255 = ""
    image: Text512 = ""
    output_fields: dict[str, Any] = Field(default_factory=dict)
    tags: Annotated[list[str], clip(64), Field(default_factory=list, max_length=64)]

    @field_validator("priority")
    @classmethod
    def _prio(cls, v: str) -> str:
        try:
            Priority.parse(v)
        except KeyError:
            raise ValueError(f"unknown priority {v[:20]!r}") from None
        return v


class ContainerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")
    name: Text255 = ""
    image: Text512 = ""
    image_id: str = Field(default="", max_length=80, pattern=r"^(sha256:[0-9a-f]{64})?$")
    privileged: bool = False
    cap_add: Annotated[list[str], clip(64), Field(default_factory=list, max_length=64)]
    mounts: Annotated[list[dict[str, Any]], clip(256), Field(default_factory=list, max_length=256)]
    ports: Annotated[list[dict[str, Any]], clip(256), Field(default_factory=list, max_length=256)]
    network_mode: Text64 = ""
    pid_mode: str = Field(default="", max_length=80, description="host, container:ID, or empty (its own)")
    ipc_mode: str = Field(default="", max_length=80, description="host, container:ID, shareable, private, or empty")
    read_only: bool = Field(default=False, description="the root filesystem is mounted read-only")


class BaselineIn(BaseModel):
    """One behavioural baseline of the agent's host (runtime/baseline): what it is, its mode and size."""

    model_config = ConfigDict(extra="ignore")

    workload: str = Field(min_length=1, max_length=512)
    image: str = Field(default="", max_length=512)
    image_id: str = Field(default="", max_length=80)
    name_pattern: str = Field(default="", max_length=512)
    mode: Literal["learn", "monitor", "protect"]
    locked: bool = False
    entries: dict[Literal["process", "file", "network", "syscall"], Count] = Field(
        default_factory=dict)
    deviations: Count = 0
    last_change: dt.datetime | None = None


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    batch_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    agent_version: str = Field(default="", max_length=64)
    containers: list[ContainerIn] | None = Field(default=None, max_length=MAX_CONTAINERS)
    baselines: list[BaselineIn] | None = Field(default=None, max_length=MAX_BASELINES,
                                               description="the host's baselines, all of them (replaces the last)")
    alerts: list[AlertIn] = Field(default_factory=list, max_length=MAX_ALERTS)
    dropped: Count = Field(default=0, description="alerts the agent had to drop (spool full) since the last batch")


class ReportAck(BaseModel):
    ack: str
    duplicate: bool
    alerts_stored: int
    containers: int | None


@router.post("/agent/report", response_model=ReportAck, summary="An agent's batch of containers and alerts")
@tolerant_text
async def agent_report(request: Request, body: ReportIn,
                       actor: Annotated[Actor, Depends(require("agent:write"))]) -> ReportAck:
    if actor.host and body.host != actor.host:
        raise HTTPException(403, f"this agent token reports for host {actor.host!r}, not {body.host[:100]!r}")
    alerts = [{"uid": a.uid, "time": a.time if a.time.tzinfo else a.time.replace(tzinfo=dt.UTC), "rule": a.rule,
               "rule_id": a.rule_id, "priority": int(Priority.parse(a.priority)), "source": a.source,
               "output": a.output, "container_id": a.container_id, "container_name": a.container_name,
               "image": a.image, "fields": a.output_fields, "tags": a.tags} for a in body.alerts]
    containers = None if body.containers is None else [c.model_dump() for c in body.containers]
    baselines = None if body.baselines is None else [
        {**b.model_dump(), "last_change": None if b.last_change is None else
         b.last_change if b.last_change.tzinfo else b.last_change.replace(tzinfo=dt.UTC)} for b in body.baselines]
    if baselines is not None and len({b["workload"] for b in baselines}) != len(baselines):
        raise HTTPException(422, "baselines: a workload is listed twice")

    def work() -> svc.ReportResult:
        with tx(request) as s:
            return svc.report(s, body.host, body.batch_id, agent_version=body.agent_version,
                              containers=containers, alerts=alerts, baselines=baselines)

    res = await run_in_threadpool(work)
    metrics.INGESTED.labels("alerts").inc(res.alerts_stored)
    if body.dropped and not res.duplicate:  # a batch sent again reports its drops once
        metrics.INGESTED.labels("alerts_dropped_by_agents").inc(body.dropped)
    return ReportAck(ack=res.batch_id, duplicate=res.duplicate, alerts_stored=res.alerts_stored,
                     containers=res.containers)


@router.get("/hosts")
def list_hosts(request: Request, _: Annotated[Actor, Depends(require("hosts:read"))],
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    with read(request) as s:
        return svc.list_hosts(s, limit=limit, offset=offset)


@router.get("/hosts/self", summary="An agent's own host: what the server holds of it (agent tokens)")
def own_host(request: Request, actor: Annotated[Actor, Depends(require("host:self"))]) -> dict[str, Any]:
    """The host the agent token is bound to, its running containers as stored (with the exposure facts the risk
    view reads) and its alert count: what an agent (or its operator, with its token) checks to see that its
    reports arrive. No other host is reachable with an agent token."""
    if not actor.host:
        raise HTTPException(403, "this token is bound to no host")
    with read(request) as s:
        view = svc.host_view(s, actor.host)
    if view is None:
        raise HTTPException(404, f"host {actor.host[:100]!r} has not reported yet")
    return view


@router.get("/containers")
def list_containers(request: Request, _: Annotated[Actor, Depends(require("hosts:read"))], host: str | None = None,
                    running: bool | None = True, image_digest: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    with read(request) as s:
        return [svc.container_dict(c, h) for c, h in svc.list_containers(
            s, host=host, running=running, image_digest=image_digest, limit=limit, offset=offset)]


@router.get("/baselines", summary="Behavioural baselines the agents keep: workload, mode, entry counts, last change")
def list_baselines(request: Request, _: Annotated[Actor, Depends(require("hosts:read"))], host: str | None = None,
                   mode: Literal["learn", "monitor", "protect"] | None = None, image_digest: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    with read(request) as s:
        return [{"host": h, "workload": b.workload, "image": b.image, "image_digest": b.image_digest,
                 "name_pattern": b.name_pattern, "mode": b.mode, "locked": b.locked, "entries": b.entries,
                 "deviations": b.deviations, "last_change": b.last_change, "updated_at": b.updated_at}
                for b, h in svc.list_baselines(s, host=host, mode=mode, image_digest=image_digest, limit=limit,
                                               offset=offset)]


@router.get("/alerts")
def list_alerts(request: Request, _: Annotated[Actor, Depends(require("alerts:read"))], host: str | None = None,
                min_priority: str | None = None, rule: str | None = None, before_id: int | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    prio = None
    if min_priority:
        try:
            prio = int(Priority.parse(min_priority))
        except KeyError:
            raise HTTPException(422, f"unknown priority {min_priority[:20]!r}") from None
    with read(request) as s:
        return [{"id": a.id, "host": h, "uid": a.uid, "time": a.time, "rule": a.rule, "rule_id": a.rule_id,
                 "priority": Priority(a.priority).name, "source": a.source, "output": a.output,
                 "container_id": a.container_id, "container_name": a.container_name, "image": a.image,
                 "fields": a.fields, "tags": a.tags, "received_at": a.received_at}
                for a, h in svc.list_alerts(s, host=host, min_priority=prio, rule=rule, before_id=before_id, limit=limit)]
