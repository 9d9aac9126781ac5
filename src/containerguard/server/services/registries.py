"""Registries the server watches (filled in by the registry-watching work)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.server.store.models import Registry, utcnow

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext


def due_for_poll(session: Session) -> list[int]:
    now = utcnow()
    out = []
    for r in session.scalars(select(Registry).where(Registry.interval > 0)):
        if r.last_polled is None or now - r.last_polled >= dt.timedelta(seconds=r.interval):
            out.append(r.id)
    return out


def poll(ctx: JobContext, registry_id: int) -> dict[str, Any]:
    raise NotImplementedError


def scan_image(ctx: JobContext, registry_id: int, repository: str, reference: str) -> dict[str, Any]:
    raise NotImplementedError
