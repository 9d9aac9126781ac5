"""The console's web security: session cookies, CSRF tokens, the Content-Security-Policy, safe redirects.

Pure functions over strings and keys, so that each rule is unit-tested on its own and the routes only
call them:

- The session cookie holds a random session id only (the session itself is a row on the server, bound to
  the token or user that opened it, so revoking that token or disabling that user ends the session). It
  is ``HttpOnly``, ``SameSite=Strict``, and under TLS ``Secure`` with the ``__Host-`` prefix (no Domain,
  Path=/), so neither a script nor a sibling sub-domain can read or plant it.
- CSRF: every form and every htmx request carries a token derived from the session id with a server key
  (HMAC-SHA256); no token is stored, and a token of one session is worthless in another. The login form,
  before any session exists, uses a double-submit cookie. State-changing requests also need a same-origin
  ``Sec-Fetch-Site``/``Origin`` when the browser sends one.
- The CSP allows scripts, styles, images and connections from this origin only: no ``unsafe-inline``,
  no ``unsafe-eval``, no framing, no ``<base>``, forms post only here.
- ``safe_next`` turns a ``?next=`` value into a local path or ``/``: no scheme, no host, no ``//`` or
  ``/\\`` prefix, no control characters -- so a login link can never send a user elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

SESSION_COOKIE = "cg_session"
SESSION_COOKIE_TLS = "__Host-cg_session"
LOGIN_CSRF_COOKIE = "cg_login_csrf"
LOGIN_CSRF_COOKIE_TLS = "__Host-cg_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))

#: headers on every console response
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def new_session_id() -> str:
    """A fresh, unguessable session id (256 bits)."""
    return secrets.token_urlsafe(32)


def session_key(session_id: str) -> str:
    """What the server stores for a session id: its SHA-256, so a database read does not yield cookies."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(secret: bytes, session_id: str) -> str:
    """The CSRF token of one session: HMAC-SHA256(secret, session id)."""
    return hmac.new(secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, session_id: str, presented: str | None) -> bool:
    """Whether ``presented`` is this session's CSRF token (constant-time comparison)."""
    if not presented or not session_id:
        return False
    return hmac.compare_digest(csrf_token(secret, session_id), presented)


def login_csrf_valid(cookie: str | None, presented: str | None) -> bool:
    """The login form's double-submit check: the form field equals the cookie set with the form."""
    if not cookie or not presented or len(cookie) < 20:
        return False
    return hmac.compare_digest(cookie, presented)


def same_origin(sec_fetch_site: str | None, origin: str | None, host: str | None, scheme: str) -> bool:
    """False when the browser says the request came from another site; True when it says nothing
    (non-browser clients still need the CSRF token)."""
    if sec_fetch_site is not None:
        return sec_fetch_site in ("same-origin", "none")
    if origin is not None and origin != "null":
        return origin == f"{scheme}://{host}"
    return origin is None


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go to after login, or ``default``: never another site."""
    if not value or len(value) > 2000:
        return default
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    if value.startswith(("/login", "/logout")):
        return default
    return value


def cookie_name(tls: bool) -> str:
    return SESSION_COOKIE_TLS if tls else SESSION_COOKIE


def login_cookie_name(tls: bool) -> str:
    return LOGIN_CSRF_COOKIE_TLS if tls else LOGIN_CSRF_COOKIE
