"""Notification targets, their test sends, and deliveries (the dead-letter list and its retry)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from containerguard.model import Priority, Severity
from containerguard.server.api.deps import require, state, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import Invalid
from containerguard.server.services import notify as svc
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)

EventType = Literal["new_finding", "new_kev_finding", "runtime_alert", "scan_failed", "image_scanned",
                    "policy_violation"]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
    kind: Literal["webhook", "slack", "syslog"]
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[EventType] = Field(default_factory=list, max_length=16)
    min_severity: str = Field(default="unknown", description="findings from this severity up")
    min_priority: str = Field(default="debug", description="runtime alerts from this priority up")
    running_only: bool = False
    enabled: bool = True


class TargetPatch(BaseModel):
    """Only the fields sent change. A webhook or Slack URL left out keeps the stored one (it is never returned);
    changing between syslog and an HTTP kind needs the new ``url``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
    kind: Literal["webhook", "slack", "syslog"] | None = None
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[EventType] | None = Field(default=None, max_length=16)
    min_severity: str | None = None
    min_priority: str | None = None
    running_only: bool | None = None
    enabled: bool | None = None


class EnabledIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


def _severity(text: str) -> int:
    try:
        return int(Severity[text.strip().upper()])
    except KeyError:
        raise Invalid(f"unknown severity {text[:40]!r} (expected {', '.join(s.name.lower() for s in Severity)})") from None


def _priority(text: str) -> int:
    try:
        return int(Priority[text.strip().upper()])
    except KeyError:
        raise Invalid(f"unknown priority {text[:40]!r} (expected {', '.join(p.name.lower() for p in Priority)})") from None


@router.get("/notifications/targets", summary="Notification targets (URLs redacted) with delivery counts")
def list_targets(request: Request, _: Annotated[Actor, Depends(require("notifications:read"))]) -> list[dict[str, Any]]:
    with tx(request) as s:
        counts = svc.delivery_counts(s)
        return [svc.target_dict(t, counts.get(t.id)) for t in svc.list_targets(s)]


@router.post("/notifications/targets", status_code=201, summary="Add a notification target and its rule")
def create_target(request: Request, body: TargetIn,
                  actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        row = svc.create_target(s, actor, name=body.name, kind=body.kind, url=body.url, event_types=list(body.event_types),
                                min_severity=_severity(body.min_severity), min_priority=_priority(body.min_priority),
                                running_only=body.running_only, enabled=body.enabled)
        return svc.target_dict(row)


@router.patch("/notifications/targets/{target_id}", summary="Change a target and its rule")
def update_target(request: Request, target_id: int, body: TargetPatch,
                  actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    f = body.model_dump(exclude_unset=True)
    if any(v is None for v in f.values()):
        raise Invalid(f"{next(k for k, v in f.items() if v is None)}: null is not a value (leave the field out to keep it)")
    sev = _severity(f["min_severity"]) if "min_severity" in f else None
    prio = _priority(f["min_priority"]) if "min_priority" in f else None
    with tx(request) as s:
        row, changed = svc.update_target(s, actor, target_id, name=f.get("name"), kind=f.get("kind"), url=f.get("url"),
                                         event_types=f.get("event_types"), min_severity=sev, min_priority=prio,
                                         running_only=f.get("running_only"), enabled=f.get("enabled"))
        return svc.target_dict(row) | {"changed": changed}


@router.delete("/notifications/targets/{target_id}", summary="Remove a target (and its queued deliveries)")
def delete_target(request: Request, target_id: int,
                  actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return svc.target_dict(svc.delete_target(s, actor, target_id))


@router.put("/notifications/targets/{target_id}/enabled", summary="Enable or disable a target")
def enable_target(request: Request, target_id: int, body: EnabledIn,
                  actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return svc.target_dict(svc.set_enabled(s, actor, target_id, body.enabled))


@router.post("/notifications/targets/{target_id}/test", status_code=202,
             summary="Queue a test notification to this target (sent by the delivery job)")
def test_target(request: Request, target_id: int,
                actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        d = svc.test_event(s, actor, target_id)
        out = {"delivery_id": d.id, "status": d.status}
    state(request).jobs.defer("deliver", _lock="deliver")
    return out


@router.get("/notifications/deliveries", summary="Deliveries, newest first; status=dead lists the dead letters")
def list_deliveries(request: Request, _: Annotated[Actor, Depends(require("notifications:read"))],
                    status: Literal["pending", "sent", "dead"] | None = None, target_id: int | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    with tx(request) as s:
        return [svc.delivery_dict(d, t, e) for d, t, e in svc.list_deliveries(s, status=status, target_id=target_id,
                                                                              limit=limit)]


@router.post("/notifications/deliveries/{delivery_id}/retry", summary="Send a dead (or pending) delivery again now")
def retry_delivery(request: Request, delivery_id: int,
                   actor: Annotated[Actor, Depends(require("notifications:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        d = svc.retry_delivery(s, actor, delivery_id)
        out = {"delivery_id": d.id, "status": d.status}
    state(request).jobs.defer("deliver", _lock="deliver")
    return out
