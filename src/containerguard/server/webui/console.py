"""The console's frame: templates, static files, security headers, login, logout and the session.

``Console`` holds what every page needs (the Jinja environment, the server key for CSRF, whether the
server runs under TLS, the session backend); ``Console.router()`` is the FastAPI router of the frame, and
``pages.py`` adds the pages on top of it. Pages call ``console.viewer(request, section)`` to get the
logged-in principal (or a redirect to the login page / a 403) and ``console.render(...)``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from containerguard.server.webui import access, security
from containerguard.server.webui.backend import Principal, SessionBackend
from containerguard.server.webui.charts import SEVERITIES

HERE = Path(str(resources.files("containerguard.server.webui")))
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
SESSION_TTL = timedelta(hours=12)


class NotAllowed(Exception):
    """The logged-in principal's role may not open this page or run this action (-> 403)."""


class LoginRequired(Exception):
    """No valid session (-> redirect to /login?next=...)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class BadForm(Exception):
    """A posted form no field of which can hold what it carries (a NUL character): 400, nothing written."""


def form_fields(form: Any) -> dict[str, str]:
    """The text fields of a posted form (the first value of each name); refuses a NUL in any value or name, which
    no name, reason or URL holds and PostgreSQL's text refuses (the API's JSON and URLs refuse it the same way)."""
    for k, v in form.multi_items():
        if "\x00" in k or (isinstance(v, str) and "\x00" in v):
            raise BadForm("a NUL character in a form field")
    return {k: v for k, v in form.items() if isinstance(v, str)}


class Viewer:
    """The principal of the current request, with its session's CSRF token."""

    __slots__ = ("csrf", "principal", "session_id")

    def __init__(self, principal: Principal, session_id: str, csrf: str) -> None:
        self.principal = principal
        self.session_id = session_id
        self.csrf = csrf

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def host(self) -> str | None:
        return self.principal.host

    def may(self, action: str) -> bool:
        return access.may_do(self.role, action)


class SecurityHeaders:
    """ASGI middleware: the console's security headers on every response of the console's paths."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = ("/",), skip: tuple[str, ...] = ("/api/",)) -> None:
        self.app = app
        self.prefixes = prefixes
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.startswith(self.skip) or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # the server's own time for the page, for the browser's devtools and bench/webui_pages.py
                headers.append((b"server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()))
                have = {k.lower() for k, _ in headers}
                for name, value in security.SECURITY_HEADERS.items():
                    if name.lower().encode() not in have:
                        headers.append((name.lower().encode(), value.encode()))
                if scope.get("scheme") == "https" and b"strict-transport-security" not in have:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _static_versions() -> dict[str, str]:
    out = {}
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            out[path.relative_to(STATIC_DIR).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


class LoginLimiter(Protocol):
    """The server's failed-authentication limiter (per client address), shared with the API."""

    def blocked(self, addr: str) -> bool: ...

    def fail(self, addr: str) -> None: ...


def is_tls(request: Request) -> bool:
    """Served over HTTPS (the server's own TLS; proxy headers are not trusted)."""
    return request.url.scheme == "https"


FLASH_COOKIE = "cg_flash"


class Console:
    def __init__(self, backend: SessionBackend, secret: bytes | None = None, *,
                 secret_loader: Callable[[], bytes] | None = None, limiter: LoginLimiter | None = None) -> None:
        self.backend = backend
        self._secret = secret
        self._secret_loader = secret_loader
        self.limiter = limiter
        self.versions = _static_versions()
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATE_DIR)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(static=self.static_url, severities=SEVERITIES)

    @property
    def secret(self) -> bytes:
        """The key CSRF tokens are derived with: shared by every server process on the same database."""
        if self._secret is None:
            self._secret = self._secret_loader() if self._secret_loader else secrets.token_bytes(32)
        return self._secret

    # -- rendering --------------------------------------------------------------------------------

    def static_url(self, name: str) -> str:
        return f"/static/console/{name}?v={self.versions.get(name, '0')}"

    def render(self, request: Request, template: str, viewer: Viewer | None, section: str = "",
               status_code: int = 200, **context: Any) -> HTMLResponse:
        ctx: dict[str, Any] = {
            "title": "", "user": viewer, "csrf": viewer.csrf if viewer else "",
            "nav": access.nav_for(viewer.role) if viewer else [], "section": section, "flashes": [],
            "request": request, "may": (lambda action: viewer is not None and viewer.may(action)),
        }
        ctx.update(context)
        flash = request.cookies.get(FLASH_COOKIE)
        if flash:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                ctx["flashes"] = [*ctx["flashes"], ("ok", base64.urlsafe_b64decode(flash.encode()).decode()[:300])]
        html = self.env.get_template(template).render(ctx)
        resp = HTMLResponse(html, status_code=status_code)
        resp.headers["Cache-Control"] = "no-store"
        if flash:
            resp.delete_cookie(FLASH_COOKIE, path="/", secure=is_tls(request), httponly=True, samesite="strict")
        return resp

    def flash_redirect(self, request: Request, dest: str, message: str) -> RedirectResponse:
        """303 to ``dest`` with a one-time status message (a cookie, not the URL: no message can be forged
        through a link)."""
        resp = RedirectResponse(dest, status_code=303)
        self._set_cookie(request, resp, FLASH_COOKIE, base64.urlsafe_b64encode(message[:300].encode()).decode(), 60)
        return resp

    def fragment(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(context)

    # -- sessions ---------------------------------------------------------------------------------

    def _cookie(self, request: Request) -> str | None:
        return request.cookies.get(security.cookie_name(is_tls(request)))

    def current(self, request: Request) -> Viewer | None:
        """The viewer of a valid session, or None."""
        sid = self._cookie(request)
        if not sid or len(sid) > 128:
            return None
        principal = self.backend.load_session(security.session_key(sid), datetime.now(UTC))
        if principal is None:
            return None
        return Viewer(principal, sid, security.csrf_token(self.secret, sid))

    def viewer(self, request: Request, section: str) -> Viewer:
        """The viewer, allowed to open ``section``; raises LoginRequired or NotAllowed."""
        viewer = self.current(request)
        if viewer is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if not access.may_see(viewer.role, section):
            raise NotAllowed(section)
        return viewer

    async def acting(self, request: Request, action: str, section: str) -> tuple[Viewer, Mapping[str, str]]:
        """For a state-changing POST: the viewer (allowed ``action``) and its form, CSRF-checked."""
        viewer = self.viewer(request, section)
        fields = form_fields(await request.form())
        self.check_csrf(request, viewer, fields.get(security.CSRF_FIELD))
        if not viewer.may(action):
            raise NotAllowed(action)
        return viewer, fields

    def check_csrf(self, request: Request, viewer: Viewer, field: str | None) -> None:
        presented = request.headers.get(security.CSRF_HEADER) or field
        if not security.same_origin(request.headers.get("sec-fetch-site"), request.headers.get("origin"),
                                    request.headers.get("host"), request.url.scheme):
            raise NotAllowed("cross-site request")
        if not security.csrf_valid(self.secret, viewer.session_id, presented):
            raise NotAllowed("missing or wrong CSRF token")

    def _set_cookie(self, request: Request, resp: Response, name: str, value: str, max_age: int) -> None:
        resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=is_tls(request),
                        samesite="strict")

    # -- the frame's routes -----------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get("/login", response_class=HTMLResponse)
        def login_form(request: Request, next: str = "/") -> Response:
            if self.current(request) is not None:
                return RedirectResponse(security.safe_next(next), status_code=303)
            return self._login_page(request, security.safe_next(next), None, 200)

        @router.post("/login")
        async def login(request: Request) -> Response:
            fields = form_fields(await request.form())
            nxt = security.safe_next(fields.get("next"))
            tls = is_tls(request)
            addr = request.client.host if request.client else ""
            if self.limiter is not None and self.limiter.blocked(addr):
                return self._login_page(request, nxt, "Too many failed log-ins from this address; wait a minute.", 429)
            cookie = request.cookies.get(security.login_cookie_name(tls))
            if not security.login_csrf_valid(cookie, fields.get(security.CSRF_FIELD)) or not security.same_origin(
                    request.headers.get("sec-fetch-site"), request.headers.get("origin"),
                    request.headers.get("host"), request.url.scheme):
                return self._login_page(request, nxt, "The form expired; please try again.", 400)
            token = fields.get("token", "").strip()
            user, password = fields.get("username", "").strip(), fields.get("password", "")
            principal: Principal | None = None
            if token:
                principal = self.backend.authenticate_token(token)
            elif user and password:
                principal = self.backend.authenticate_password(user, password)
            if principal is None:
                if self.limiter is not None:
                    self.limiter.fail(addr)
                return self._login_page(request, nxt, "Unknown, expired or revoked credentials.", 401)
            if access.landing(principal.role) == "/no-access":
                return self._login_page(request, nxt, f"A {principal.role} token cannot open the console.", 403)
            sid = security.new_session_id()
            client = request.client.host if request.client else ""
            self.backend.open_session(security.session_key(sid), principal, datetime.now(UTC) + SESSION_TTL, client)
            dest = nxt if nxt != "/" else access.landing(principal.role)
            resp = RedirectResponse(dest, status_code=303)
            self._set_cookie(request, resp, security.cookie_name(tls), sid, int(SESSION_TTL.total_seconds()))
            resp.delete_cookie(security.login_cookie_name(tls), path="/", secure=tls, httponly=True,
                               samesite="strict")
            return resp

        @router.post("/logout")
        async def logout(request: Request) -> Response:
            viewer = self.current(request)
            if viewer is not None:
                self.check_csrf(request, viewer, form_fields(await request.form()).get(security.CSRF_FIELD))
                self.backend.close_session(security.session_key(viewer.session_id))
            resp = RedirectResponse("/login", status_code=303)
            resp.delete_cookie(security.cookie_name(is_tls(request)), path="/", secure=is_tls(request),
                               httponly=True, samesite="strict")
            return resp

        return router

    def _login_page(self, request: Request, nxt: str, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        resp = self.render(request, "login.html", None, title="Log in", login_csrf=token, next=nxt,
                           error=error, status_code=status)
        self._set_cookie(request, resp, security.login_cookie_name(is_tls(request)), token, 3600)
        return resp

    def static_app(self) -> StaticFiles:
        return StaticFiles(directory=str(STATIC_DIR))

    def login_redirect(self, next_path: str) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(security.safe_next(next_path), safe='/')}", status_code=303)
