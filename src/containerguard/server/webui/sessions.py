"""The console's ``SessionBackend`` over the server's store: tokens checked by the server's own token
service, passwords by argon2id (argon2-cffi), sessions as rows that hang on their credential."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from containerguard.server.services import tokens as token_svc
from containerguard.server.services import users
from containerguard.server.store import transaction
from containerguard.server.store.models import ApiToken, ConsoleSession, User
from containerguard.server.webui.backend import Principal


class StoreSessions:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self._opened = 0

    def authenticate_token(self, raw: str) -> Principal | None:
        with transaction(self.factory) as s:
            row = token_svc.authenticate(s, raw)
            if row is None:
                return None
            return Principal(row.name, row.role, f"token:{row.id}", row.host or None)

    def authenticate_password(self, username: str, password: str) -> Principal | None:
        with transaction(self.factory) as s:
            user = users.verify(s, username, password)
            if user is None:
                return None
            return Principal(user.name, user.role, f"user:{user.id}")

    def open_session(self, key: str, principal: Principal, expires: dt.datetime, client: str) -> None:
        kind, _, ident = principal.credential.partition(":")
        with transaction(self.factory) as s:
            s.add(ConsoleSession(key=key, token_id=int(ident) if kind == "token" else None,
                                 user_id=int(ident) if kind == "user" else None, expires_at=expires,
                                 remote_addr=client[:64]))
            self._opened += 1
            if self._opened % 100 == 1:  # now and then, forget sessions that lapsed
                s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < dt.datetime.now(dt.UTC)))

    def load_session(self, key: str, now: dt.datetime) -> Principal | None:
        with transaction(self.factory) as s:
            row = s.get(ConsoleSession, key)
            if row is None or row.expires_at <= now:
                return None
            if row.token_id is not None:
                tok: Any = s.execute(select(ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.host)
                                     .where(ApiToken.id == row.token_id, ApiToken.revoked_at.is_(None))).first()
                if tok is None:
                    return None
                return Principal(tok.name, tok.role, f"token:{tok.id}", tok.host or None)
            if row.user_id is not None:
                user = s.get(User, row.user_id)
                if user is None or user.disabled_at is not None:
                    return None
                return Principal(user.name, user.role, f"user:{user.id}")
            return None

    def close_session(self, key: str) -> None:
        with transaction(self.factory) as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.key == key))


SECRET_KEY = "console_secret"  # noqa: S105 - the settings row that holds the key, not a key


def console_secret(factory: sessionmaker[Session]) -> bytes:
    """The console's CSRF key: 32 random bytes made on first use and kept in the settings table, so every
    server process sharing the database accepts the others' forms."""
    import secrets

    from sqlalchemy.exc import IntegrityError

    from containerguard.server.store.models import Setting

    for _ in range(3):
        try:
            with transaction(factory) as s:
                row = s.get(Setting, SECRET_KEY)
                if row is not None:
                    return bytes.fromhex(row.value)
                value = secrets.token_bytes(32)
                s.add(Setting(key=SECRET_KEY, value=value.hex()))
            return value
        except IntegrityError:  # another process made it first: read theirs
            continue
    raise RuntimeError("could not read or create the console secret")
