"""What every route needs: the app state (settings, sessions, job queue), the caller's identity and role."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from containerguard.server import auth
from containerguard.server.services import tokens
from containerguard.server.services.audit import Actor
from containerguard.server.store import transaction

if TYPE_CHECKING:
    from containerguard.server.jobs import JobQueue
    from containerguard.server.settings import Settings


class AuthFailures:
    """Sliding one-minute window of failed authentications (a token presented and wrong) per client address;
    over the limit: 429 for every request from that address until the window clears."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _window(self, addr: str, now: float) -> deque[float]:
        q = self._seen.setdefault(addr, deque())
        while q and now - q[0] > 60:
            q.popleft()
        return q

    def blocked(self, addr: str) -> bool:
        with self._lock:
            return len(self._window(addr, time.monotonic())) >= self.per_minute

    def fail(self, addr: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._window(addr, now).append(now)
            if len(self._seen) > 100_000:  # bounded memory under a spray of addresses
                self._seen = {a: q for a, q in self._seen.items() if q and now - q[-1] < 60}


@dataclass
class State:
    settings: Settings
    sessions: sessionmaker[Session]
    jobs: JobQueue
    failures: AuthFailures
    extra: dict[str, Any] = field(default_factory=dict)
    #: autocommit sessions for reads (store.read_session_factory); None: reads use ``sessions``
    reads: sessionmaker[Session] | None = None


def state(request: Request) -> State:
    st: State = request.app.state.cg
    return st


@contextmanager
def tx(request: Request) -> Iterator[Session]:
    with transaction(state(request).sessions) as s:
        yield s


@contextmanager
def read(request: Request) -> Iterator[Session]:
    """A session for a handler that only reads (no BEGIN/COMMIT round trips on PostgreSQL; see
    ``store.read_session_factory``). Anything that writes uses ``tx``."""
    st = state(request)
    with transaction(st.reads or st.sessions) as s:
        yield s


def client_addr(request: Request) -> str:
    return request.client.host if request.client else ""


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


#: for the OpenAPI document only (security scheme ``bearerToken``); ``authenticate`` reads the header itself
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearerToken",
                     description="An API token (cg_...): printed at the first start, or from `containerguard token "
                                 "create` / POST /api/v1/tokens. The operation's scopes name the permission it needs.")


def authenticate(request: Request,
                 _doc: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> Actor:  # noqa: B008
    st = state(request)
    addr = client_addr(request)
    if st.failures.blocked(addr):
        raise HTTPException(429, "too many failed authentications from this address; retry in a minute",
                            headers={"Retry-After": "60"})
    token = _bearer(request)
    if not token:  # no guess was made: not counted as a failed authentication
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    with transaction(st.reads or st.sessions) as s:  # one SELECT (and, once a minute, one UPDATE of last_used)
        row = tokens.authenticate(s, token)
        actor = None if row is None else Actor(row.name, row.role, row.id, row.host, addr)
    if actor is None:
        st.failures.fail(addr)
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return actor


def require(permission: str) -> Callable[..., Actor]:
    """A dependency: the authenticated caller, whose role must grant ``permission`` (else 403)."""

    # Security(scopes=...): the OpenAPI document lists the permission as the operation's bearer scope (OpenAPI 3.1
    # lets a non-OAuth scheme name "role names required for the execution" there)
    def dep(actor: Actor = Security(authenticate, scopes=[permission])) -> Actor:  # noqa: B008
        if not auth.allowed(actor.role, permission):
            raise HTTPException(403, f"role {actor.role} may not {permission}")
        return actor

    dep.__name__ = f"require_{permission.replace(':', '_')}"
    dep.permission = permission  # type: ignore[attr-defined]
    return dep
