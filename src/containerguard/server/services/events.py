"""Events: things worth telling someone (new KEV/critical finding in an image, runtime alert, scan failure).
Raising an event also queues one delivery per matching notification target (see services.notify)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.model import Severity
from containerguard.server.store.models import Container, Event, Host, Image

TYPES = ("new_finding", "new_kev_finding", "runtime_alert", "scan_failed", "image_scanned", "policy_violation")


def raise_event(session: Session, type_: str, summary: str, *, severity: int = 0, image_digest: str = "",
                host: str = "", **detail: Any) -> Event:
    ev = Event(type=type_, summary=summary, severity=severity, image_digest=image_digest, host=host, detail=detail)
    raise_events(session, [ev])
    return ev


def raise_events(session: Session, events: list[Event]) -> None:
    """Store ``events`` with one flush and queue their deliveries against one read of the targets (batch ingest
    raises many at once; see services.notify.queue_for)."""
    if not events:
        return
    session.add_all(events)
    session.flush()
    from containerguard.server.services import notify

    targets = notify.enabled_targets(session)
    for ev in events:
        notify.queue_for(session, ev, targets)  # one delivery per target whose rule matches (see notify.matches)


def list_events(session: Session, *, limit: int = 100, before_id: int | None = None,
                type_: str | None = None) -> list[Event]:
    q = select(Event).order_by(Event.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(Event.id < before_id)
    if type_:
        q = q.where(Event.type == type_)
    return list(session.scalars(q))


def finding_events(s: Session, img: Image, new: list[dict[str, Any]], *, running_only: bool = False) -> int:
    """``new_kev_finding`` / ``new_finding`` (HIGH and CRITICAL) events for new findings of ``img``, naming the hosts
    where it runs now (``running`` in the detail, for running-only notification rules). ``running_only``: none
    unless the image runs somewhere (scan uploads: a new image's findings are not news until it runs)."""
    return finding_events_many(s, [(img, new)], running_only=running_only)


def finding_events_many(s: Session, batch: list[tuple[Image, list[dict[str, Any]]]], *,
                        running_only: bool = False) -> int:
    """``finding_events`` for many images (a rescan batch): one read of where they run, one flush of the events
    and one read of the notification targets."""
    digests = sorted({img.digest for img, new in batch if new})
    running: dict[str, set[str]] = {}
    for i in range(0, len(digests), 500):
        for digest, name in s.execute(select(Container.image_digest, Host.name)
                                      .join(Host, Container.host_id == Host.id)
                                      .where(Container.image_digest.in_(digests[i:i + 500]),
                                             Container.running.is_(True))):
            running.setdefault(digest, set()).add(name)
    events: list[Event] = []
    for img, new in batch:
        hosts = sorted(running.get(img.digest, ()))
        if running_only and not hosts:
            continue
        events += _image_events(img, new, hosts)
    raise_events(s, events)
    return len(events)


def _image_events(img: Image, new: list[dict[str, Any]], hosts: list[str]) -> list[Event]:
    where = f" running on {', '.join(hosts[:5])}" + (" ..." if len(hosts) > 5 else "") if hosts else ""
    out = []
    for r in new:
        if r["kev"]:
            kind = "new_kev_finding"
        elif r["severity"] >= Severity.HIGH:
            kind = "new_finding"
        else:
            continue
        out.append(Event(type=kind, severity=r["severity"], image_digest=img.digest, host=hosts[0] if hosts else "",
                         summary=f"new {'KEV ' if r['kev'] else ''}{Severity(r['severity']).name} {r['vuln_id']} in "
                                 f"{r['package_name']} {r['package_version']} of image {img.name or img.digest}{where}",
                         detail={"vuln_id": r["vuln_id"], "hosts": hosts, "running": bool(hosts)}))
    return out
