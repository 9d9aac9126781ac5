"""The audit log: who did what, when, from where. Every change made through the API records one entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.server.store.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a token's name and role (``system`` for the server's own jobs)."""

    name: str
    role: str
    token_id: int | None = None
    host: str = ""  # agent tokens: the host it speaks for
    remote_addr: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})"


SYSTEM = Actor("system", "system")


def record(session: Session, actor: Actor, action: str, object_type: str, object_id: object = "",
           **detail: Any) -> None:
    session.add(AuditEntry(actor=actor.label, action=action, object_type=object_type, object_id=str(object_id),
                           remote_addr=actor.remote_addr, detail=detail))


def list_entries(session: Session, *, limit: int = 100, before_id: int | None = None,
                 action: str | None = None) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    if action:
        q = q.where(AuditEntry.action == action)
    return list(session.scalars(q))
