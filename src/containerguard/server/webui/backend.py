"""What the console needs from the server to log people in: a seam, implemented over the server's store.

The console never checks a token or a password itself and never stores one: it asks the server's auth
(the same code the API uses), and keeps a session row keyed by the SHA-256 of a random id. ``load`` goes
back to the credential behind the session every time, so a revoked or expired token (or a disabled user)
ends its sessions at the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is logged in: a display name, the role, the host an agent token is bound to, and the
    credential (``token:<id>`` or ``user:<id>``) the session hangs on."""

    name: str
    role: str
    credential: str
    host: str | None = None


class SessionBackend(Protocol):
    def authenticate_token(self, raw: str) -> Principal | None:
        """The principal of a valid (known, unrevoked, unexpired) token, else None."""

    def authenticate_password(self, username: str, password: str) -> Principal | None:
        """The principal of a user whose password matches, else None."""

    def open_session(self, key: str, principal: Principal, expires: datetime, client: str) -> None:
        """Store a session under ``key`` (the hash of the cookie's id)."""

    def load_session(self, key: str, now: datetime) -> Principal | None:
        """The session's principal if the session and its credential are still valid, else None."""

    def close_session(self, key: str) -> None:
        """Forget the session (logout)."""
