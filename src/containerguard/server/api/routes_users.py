"""People who log in to the web console by name and password (``containerguard user create``); admin only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from containerguard.server.api.deps import client_addr, require, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import users
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    role: str = Field(pattern="^(admin|analyst|viewer)$")
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    created_by: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a console user (admin)")
def create_user(request: Request, body: UserIn, actor: Annotated[Actor, Depends(require("tokens:admin"))]) -> UserOut:
    with tx(request) as s:
        user = users.create(s, _with_addr(actor, request), name=body.name, role=body.role, password=body.password)
        return UserOut.model_validate(user)


@router.get("/users", response_model=list[UserOut], summary="Console users (admin)")
def list_users(request: Request, _: Annotated[Actor, Depends(require("tokens:admin"))]) -> list[UserOut]:
    with tx(request) as s:
        return [UserOut.model_validate(u) for u in users.list_users(s)]


@router.delete("/users/{name}", response_model=UserOut, summary="Disable a console user: their sessions end at once")
def disable_user(request: Request, name: str, actor: Annotated[Actor, Depends(require("tokens:admin"))]) -> UserOut:
    with tx(request) as s:
        return UserOut.model_validate(users.disable(s, _with_addr(actor, request), name))


def _with_addr(actor: Actor, request: Request) -> Actor:
    if actor.remote_addr:
        return actor
    return Actor(actor.name, actor.role, actor.token_id, actor.host, client_addr(request))
