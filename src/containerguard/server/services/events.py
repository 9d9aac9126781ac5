"""Events: things worth telling someone (new KEV/critical finding in an image, runtime alert, scan failure).
Raising an event also queues one delivery per matching notification target (see services.notify)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.server.store.models import Delivery, Event, NotificationTarget

TYPES = ("new_finding", "new_kev_finding", "runtime_alert", "scan_failed", "image_scanned")


def raise_event(session: Session, type_: str, summary: str, *, severity: int = 0, image_digest: str = "",
                host: str = "", **detail: Any) -> Event:
    ev = Event(type=type_, summary=summary, severity=severity, image_digest=image_digest, host=host, detail=detail)
    session.add(ev)
    session.flush()
    for target in session.scalars(select(NotificationTarget).where(NotificationTarget.enabled.is_(True))):
        if target.event_types and type_ not in target.event_types:
            continue
        if severity < target.min_severity:
            continue
        session.add(Delivery(target_id=target.id, event_id=ev.id))
    return ev


def list_events(session: Session, *, limit: int = 100, before_id: int | None = None,
                type_: str | None = None) -> list[Event]:
    q = select(Event).order_by(Event.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(Event.id < before_id)
    if type_:
        q = q.where(Event.type == type_)
    return list(session.scalars(q))
