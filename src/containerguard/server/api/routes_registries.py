"""Registries (add/list/remove, poll now), their push-notification webhook, rescans and job runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from containerguard.server import auth
from containerguard.server.api.deps import client_addr, read, require, state, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import Invalid
from containerguard.server.services import registries as svc
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import JobRun, Registry

router = APIRouter(route_class=StrictRoute)


class RegistryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(min_length=8, max_length=512)
    username: str = Field(default="", max_length=255)
    password: str = Field(default="", max_length=4096)
    repositories: list[str] = Field(default_factory=list, max_length=200)
    interval: int = Field(default=3600, ge=0, le=7 * 86400)
    webhook_secret: str = Field(default="", max_length=512,
                                description="shared secret the registry sends as `Authorization: Bearer SECRET`")


class RegistryPatch(BaseModel):
    """Only the fields sent change. ``password`` / ``webhook_secret``: a new secret, or "" to remove it; left
    out, the stored one is kept (it is never returned)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str | None = Field(default=None, min_length=8, max_length=512)
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=4096)
    repositories: list[str] | None = Field(default=None, max_length=200)
    interval: int | None = Field(default=None, ge=0, le=7 * 86400)
    webhook_secret: str | None = Field(default=None, max_length=512)


@router.get("/registries")
def list_registries(request: Request, _: Annotated[Actor, Depends(require("registries:read"))]) -> list[dict[str, Any]]:
    with read(request) as s:
        return [svc.as_dict(r) for r in svc.list_registries(s)]


@router.post("/registries", status_code=201)
def add_registry(request: Request, body: RegistryIn,
                 actor: Annotated[Actor, Depends(require("registries:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return svc.as_dict(svc.add(s, actor, **body.model_dump()))


@router.patch("/registries/{name}", summary="Change a registry (credentials, filters, schedule, URL, name)",
              description="A change of URL, credentials or repository filters queues a poll.")
def update_registry(request: Request, name: str, body: RegistryPatch,
                    actor: Annotated[Actor, Depends(require("registries:write"))]) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    if any(v is None for v in fields.values()):
        raise Invalid(f"{next(k for k, v in fields.items() if v is None)}: null is not a value (leave the field out to keep it)")
    with tx(request) as s:
        row, changed = svc.update(s, actor, name, new_name=fields.pop("name", None), **fields)
        out = svc.as_dict(row) | {"changed": changed}
        rid = row.id
    if svc.RESYNC & set(changed):
        state(request).jobs.defer("poll_registry", registry_id=rid, _lock=f"poll-{rid}")
    return out


@router.delete("/registries/{name}")
def remove_registry(request: Request, name: str, actor: Annotated[Actor, Depends(require("registries:write"))]) -> dict[str, str]:
    with tx(request) as s:
        svc.remove(s, actor, name)
    return {"removed": name}


@router.post("/registries/{name}/poll", status_code=202, summary="Poll the registry now")
def poll_registry(request: Request, name: str, actor: Annotated[Actor, Depends(require("jobs:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        reg = svc.by_name(s, name)
        record(s, actor, "registry.poll", "registry", reg.id, name=name)
        rid = reg.id
    state(request).jobs.defer("poll_registry", registry_id=rid, _lock=f"poll-{rid}")
    return {"queued": "poll_registry", "registry": name}


@router.post("/registries/{name}/notifications", summary="Docker distribution notifications webhook",
             description="Authenticated by the registry's shared secret (`Authorization: Bearer SECRET`), not a token.")
async def registry_notifications(request: Request, name: str) -> dict[str, Any]:
    st = state(request)
    addr = client_addr(request)
    if st.failures.blocked(addr):
        raise HTTPException(429, "too many failed authentications from this address; retry in a minute")
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    body = await request.body()
    import orjson

    with tx(request) as s:
        reg = s.scalars(select(Registry).where(Registry.name == name)).first()
        if reg is None or scheme.lower() != "bearer" or not auth.secret_matches(secret.strip(), reg.webhook_secret_hash):
            if secret:
                st.failures.fail(addr)
            raise HTTPException(401, "unknown registry or wrong shared secret", headers={"WWW-Authenticate": "Bearer"})
        try:
            envelope = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"not JSON: {exc}") from None
        events = envelope.get("events") if isinstance(envelope, dict) else None
        if not isinstance(events, list):
            raise HTTPException(422, "expected a notification envelope {\"events\": [...]}")
        todo = svc.notification(s, reg, events[:1000])
        rid = reg.id
    for repo, tag, digest in todo:
        st.jobs.defer("scan_image", registry_id=rid, repository=repo, reference=digest, tag=tag, _lock=f"scan-{digest}")
    return {"events": len(events), "queued": len(todo)}


@router.post("/rescans", status_code=202, summary="Re-match every stored inventory with the server's database")
def rescan_all(request: Request, actor: Annotated[Actor, Depends(require("jobs:write"))],
               batch: Annotated[int, Query(ge=1, le=1000, description="inventories per job")] = 25) -> dict[str, str]:
    with tx(request) as s:
        record(s, actor, "rescan.all", "images", batch=batch)
    state(request).jobs.defer("rescan_all", batch=batch, _lock="rescan-all")
    return {"queued": "rescan_all"}


@router.get("/jobs", summary="Job runs, newest first")
def list_jobs(request: Request, _: Annotated[Actor, Depends(require("jobs:read"))], kind: str | None = None,
              status: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    q = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if kind:
        q = q.where(JobRun.kind == kind)
    if status:
        q = q.where(JobRun.status == status)
    with read(request) as s:
        return [{"id": j.id, "kind": j.kind, "key": j.key, "status": j.status, "worker": j.worker, "error": j.error,
                 "created_at": j.created_at, "started_at": j.started_at, "finished_at": j.finished_at,
                 "result": j.result} for j in s.scalars(q)]
