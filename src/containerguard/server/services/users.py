"""People who log in to the console with a name and password (``containerguard user create``).

Passwords are hashed with argon2id through argon2-cffi (the OWASP-recommended algorithm, a maintained
binding of the reference implementation; parameters travel in the hash, so raising them later re-hashes
on the next login). A failed look-up still runs one verification so that timing does not tell which user
names exist. Roles are the server's token roles; a user's session is logged out when the user is disabled.
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.server import auth
from containerguard.server.services import Conflict, Invalid, NotFound
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import ConsoleSession, User, utcnow

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password: equalises the time of a failed look-up")
MIN_PASSWORD = 12


def create(session: Session, actor: Actor, *, name: str, role: str, password: str) -> User:
    name = name.strip()
    if not name or len(name) > 255 or any(ord(c) < 0x20 for c in name):
        raise Invalid("a user needs a name of 1-255 printable characters")
    if role not in auth.ROLE_NAMES or role in ("agent", "ci", "enforcer"):
        raise Invalid(f"role {role!r}: a person is admin, analyst or viewer")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise Invalid("the password is longer than 1024 characters")
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise Conflict(f"user {name!r} exists")
    user = User(name=name, role=role, password_hash=_HASHER.hash(password), created_by=actor.label)
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, name=name, role=role)
    return user


def disable(session: Session, actor: Actor, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name[:100]!r}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        session.query(ConsoleSession).filter(ConsoleSession.user_id == user.id).delete()
        record(session, actor, "user.disable", "user", user.id, name=user.name)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def verify(session: Session, name: str, password: str) -> User | None:
    """The enabled user whose password this is, else None (same cost either way)."""
    user = session.scalars(select(User).where(User.name == name[:255])).first()
    if user is None or user.disabled_at is not None or len(password) > 1024:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY, password[:1024] + "\x00")
        return None
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user
