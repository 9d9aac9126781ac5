"""API tokens: create (the secret is returned once), list, revoke, authenticate."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from containerguard.server import auth
from containerguard.server.services import Conflict, Invalid, NotFound
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import ApiToken, utcnow


def create(session: Session, actor: Actor, *, name: str, role: str, host: str = "",
           secret: str | None = None) -> tuple[ApiToken, str]:
    if role not in auth.ROLE_NAMES:
        raise Invalid(f"unknown role {role!r} (expected one of {', '.join(auth.ROLE_NAMES)})")
    if not name.strip() or len(name) > 255:
        raise Invalid("a token needs a name of 1-255 characters")
    if role == "agent" and not host:
        host = name
    token = secret or auth.new_token()
    row = ApiToken(name=name.strip(), role=role, token_hash=auth.hash_token(token), prefix=token[:8],
                   host=host, created_by=actor.label)
    session.add(row)
    session.flush()
    record(session, actor, "token.create", "token", row.id, name=row.name, role=role, host=host)
    return row, token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(session: Session, actor: Actor, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        if row.role == "admin":
            _lock_admins(session)
        row.revoked_at = utcnow()
        session.flush()
        if row.role == "admin" and count_admins(session) == 0:
            # nothing but a database edit could make a token again: every token and user is managed through one
            raise Conflict(f"token {token_id} is the last live admin token: create another admin token first")
        record(session, actor, "token.revoke", "token", row.id, name=row.name)
    return row


def _lock_admins(session: Session) -> None:
    """Serialise revocations of admin tokens, so that two at the same moment cannot each see the other's token
    still live and revoke the last two. PostgreSQL: a transaction-scoped advisory lock; SQLite: the flush's
    write lock is held until commit, so the count after it already sees every earlier revocation."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(6369)"))


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token row for ``token`` (None: unknown or revoked). Updates ``last_used`` at most once a minute."""
    if not token.startswith(auth.PREFIX) or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == auth.hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used is None or now - row.last_used > dt.timedelta(minutes=1):
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used=now))
    return row


def count_admins(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.role == "admin", ApiToken.revoked_at.is_(None))) or 0)
