"""Exceptions (accepted risks and false positives)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from containerguard.server.api.deps import read, require, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import exceptions as svc
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)


class ExceptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vuln_id: str = Field(min_length=1, max_length=128)
    scope: Literal["finding", "image", "repository", "global"]
    kind: Literal["risk_accepted", "false_positive"]
    reason: str = Field(min_length=1, max_length=4000)
    image_digest: str = Field(default="", max_length=80, pattern=r"^(sha256:[0-9a-f]{64})?$")
    repository: str = Field(default="", max_length=512)
    package_name: str = Field(default="", max_length=256)
    expires_at: dt.datetime | None = None


@router.get("/exceptions", summary="Exceptions (active ones unless all=true)")
def list_exceptions(request: Request, _: Annotated[Actor, Depends(require("exceptions:read"))],
                    all: bool = False) -> list[dict[str, Any]]:
    with read(request) as s:
        return [svc.as_dict(e) for e in svc.active(s, include_inactive=all)]


@router.post("/exceptions", status_code=201)
def create_exception(request: Request, body: ExceptionIn,
                     actor: Annotated[Actor, Depends(require("exceptions:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return svc.as_dict(svc.create(s, actor, **body.model_dump()))


@router.delete("/exceptions/{exc_id}")
def revoke_exception(request: Request, exc_id: int,
                     actor: Annotated[Actor, Depends(require("exceptions:write"))]) -> dict[str, Any]:
    with tx(request) as s:
        return svc.as_dict(svc.revoke(s, actor, exc_id))
