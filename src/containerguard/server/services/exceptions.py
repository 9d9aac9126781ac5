"""Exceptions: a finding accepted as a risk or marked a false positive, with reason, author and expiry.

Scope (``vuln_id`` is always required):

* ``finding``    -- that vulnerability in one package of one image (``image_digest`` + ``package_name``);
* ``image``      -- that vulnerability anywhere in one image (``image_digest``);
* ``repository`` -- in every image under one repository (``repository``, e.g. ``registry:5000/team/app``);
* ``global``     -- everywhere.

An exception lapses by itself at ``expires_at``; revoking keeps the row for the record. Listing returns the
active ones; the CLI fetches them for CI scans (``scan --server``) and turns them into ignore rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from containerguard.server.services import Invalid, NotFound
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import Finding, FindingException, Image, ImageName, utcnow

SCOPES = ("finding", "image", "repository", "global")
#: ``Finding.excepted_until`` of a finding an exception without expiry covers
NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
KINDS = ("risk_accepted", "false_positive")


def create(session: Session, actor: Actor, *, vuln_id: str, scope: str, kind: str, reason: str,
           image_digest: str = "", repository: str = "", package_name: str = "",
           expires_at: dt.datetime | None = None) -> FindingException:
    if scope not in SCOPES:
        raise Invalid(f"unknown scope {scope!r} (expected {', '.join(SCOPES)})")
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r} (expected {', '.join(KINDS)})")
    if not reason.strip():
        raise Invalid("an exception needs a reason")
    if scope in ("finding", "image") and not image_digest:
        raise Invalid(f"scope {scope} needs image_digest")
    if scope == "finding" and not package_name:
        raise Invalid("scope finding needs package_name")
    if scope == "repository" and not repository:
        raise Invalid("scope repository needs repository")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        if expires_at <= utcnow():
            raise Invalid("expires_at is in the past")
    row = FindingException(vuln_id=vuln_id, scope=scope, kind=kind, reason=reason.strip(), author=actor.label,
                           image_digest=image_digest if scope in ("finding", "image") else "",
                           repository=repository if scope == "repository" else "",
                           package_name=package_name if scope == "finding" else "", expires_at=expires_at)
    session.add(row)
    session.flush()
    refresh_cover(session, vuln_ids=[row.vuln_id])
    record(session, actor, "exception.create", "exception", row.id, vuln_id=vuln_id, scope=scope, kind=kind,
           reason=row.reason, expires_at=expires_at.isoformat() if expires_at else None)
    return row


def revoke(session: Session, actor: Actor, exc_id: int) -> FindingException:
    row = session.get(FindingException, exc_id)
    if row is None:
        raise NotFound(f"no exception {exc_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        refresh_cover(session, vuln_ids=[row.vuln_id])
        record(session, actor, "exception.revoke", "exception", row.id, vuln_id=row.vuln_id)
    return row


def active(session: Session, *, include_inactive: bool = False) -> list[FindingException]:
    q = select(FindingException).order_by(FindingException.id)
    if not include_inactive:
        now = utcnow()
        q = q.where(FindingException.revoked_at.is_(None),
                    or_(FindingException.expires_at.is_(None), FindingException.expires_at > now))
    return list(session.scalars(q))


def as_dict(e: FindingException) -> dict[str, Any]:
    return {"id": e.id, "vuln_id": e.vuln_id, "scope": e.scope, "kind": e.kind, "reason": e.reason,
            "author": e.author, "image_digest": e.image_digest, "repository": e.repository,
            "package_name": e.package_name, "created_at": e.created_at.isoformat(),
            "expires_at": e.expires_at.isoformat() if e.expires_at else None,
            "revoked_at": e.revoked_at.isoformat() if e.revoked_at else None}


@dataclass
class Matcher:
    """Active exceptions indexed by vulnerability id, to mark findings in lists."""

    by_vuln: dict[str, list[FindingException]]
    session: Session
    _repos: dict[int, set[str]]

    def repos(self, image_id: int) -> set[str]:
        if image_id not in self._repos:
            self._repos[image_id] = set(self.session.scalars(
                select(ImageName.repository).where(ImageName.image_id == image_id)))
        return self._repos[image_id]

    def match(self, f: Finding, image: Image) -> dict[str, Any] | None:
        for e in self.by_vuln.get(f.vuln_id, ()):
            if (e.scope == "global"
                    or (e.scope == "image" and e.image_digest == image.digest)
                    or (e.scope == "finding" and e.image_digest == image.digest and e.package_name == f.package_name)
                    or (e.scope == "repository" and e.repository in self.repos(image.id))):
                return as_dict(e)
        return None


def covers(now: dt.datetime) -> Any:
    """SQL: an active exception covers the ``Finding`` row (joined with its ``Image``) of the enclosing query
    -- the same rule as :meth:`Matcher.match`, for queries that must filter or count open findings in the
    database (the console's open list, its top risks). tests/unit/server/test_exception_rules.py keeps
    the two in step."""
    from sqlalchemy import exists

    return exists().where(
        FindingException.vuln_id == Finding.vuln_id,
        FindingException.revoked_at.is_(None),
        or_(FindingException.expires_at.is_(None), FindingException.expires_at > now),
        _cover_conditions(),
    )


def _cover_conditions() -> Any:
    from sqlalchemy import and_, exists

    return or_(
        FindingException.scope == "global",
        and_(FindingException.scope == "image", FindingException.image_digest == Image.digest),
        and_(FindingException.scope == "finding", FindingException.image_digest == Image.digest,
             FindingException.package_name == Finding.package_name),
        and_(FindingException.scope == "repository",
             # correlated to the outer query's image and exception, not a fresh FROM of either
             exists().where(ImageName.image_id == Image.id, ImageName.repository == FindingException.repository)
             .correlate_except(ImageName)),
    )


def is_open(now: dt.datetime) -> Any:
    """SQL: no active exception covers the ``Finding`` row -- the stored ``excepted_until`` (kept by
    :func:`refresh_cover`) is unset or past. Equal to ``~covers(now)``; a column test, so ordered scans of the
    findings (risk rankings, open lists) stay index walks."""
    return or_(Finding.excepted_until.is_(None), Finding.excepted_until <= now)


def refresh_cover(session: Session, *, vuln_ids: Sequence[str] | None = None,
                  image_ids: Sequence[int] | None = None) -> None:
    """Recompute ``Finding.excepted_until`` for the findings of ``vuln_ids`` (an exception was created or
    revoked) or of ``image_ids`` (new findings, or a new name that a repository exception may name); both None:
    every finding some exception names. Expiry needs no refresh: ``is_open`` compares with the time."""
    from sqlalchemy import literal, update

    from containerguard.server.store.models import UTCDateTime

    until = (select(func.max(func.coalesce(FindingException.expires_at, literal(NEVER, UTCDateTime()))))
             .where(Image.id == Finding.image_id, FindingException.vuln_id == Finding.vuln_id,
                    FindingException.revoked_at.is_(None), _cover_conditions())
             .correlate(Finding).scalar_subquery())
    named = select(FindingException.vuln_id).distinct()
    conds: list[Any] = []
    if vuln_ids is not None:
        conds.append(Finding.vuln_id.in_(list(vuln_ids)))
    if image_ids is not None:
        # only findings an exception names can be covered (an indexed probe), and those that were
        conds += [Finding.image_id.in_(list(image_ids)),
                  or_(Finding.vuln_id.in_(named), Finding.excepted_until.is_not(None))]
    if vuln_ids is None and image_ids is None:
        conds.append(or_(Finding.vuln_id.in_(named), Finding.excepted_until.is_not(None)))
    session.execute(update(Finding).where(*conds).values(excepted_until=until)
                    .execution_options(synchronize_session=False))


def matcher(session: Session, vuln_ids: Sequence[str] | None = None) -> Matcher:
    """The active exceptions (of ``vuln_ids`` only, when given: a page's findings) indexed for ``match``."""
    by: dict[str, list[FindingException]] = {}
    if vuln_ids is not None and not vuln_ids:
        return Matcher(by, session, {})
    rows = active(session) if vuln_ids is None else [
        e for e in session.scalars(select(FindingException).where(FindingException.vuln_id.in_(sorted(set(vuln_ids))))
                                   .order_by(FindingException.id))
        if e.revoked_at is None and (e.expires_at is None or e.expires_at > utcnow())]
    for e in rows:
        by.setdefault(e.vuln_id, []).append(e)
    return Matcher(by, session, {})
