"""The console's pages and actions (FastAPI routes returning HTML), on the server's service layer.

Reading works without JavaScript (plain GET pages and forms); with JavaScript, htmx posts the action forms
in place and swaps the row, and the alert timeline follows new alerts over server-sent events. Every route
starts from ``console.viewer`` (login + role check) or ``console.acting`` (+ CSRF); every change goes
through a service function that writes the audit log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from containerguard.errors import ContainerGuardError
from containerguard.server import auth
from containerguard.server.services import NotFound
from containerguard.server.services import exceptions as exc_svc
from containerguard.server.services import hosts as host_svc
from containerguard.server.services import tokens as token_svc
from containerguard.server.services.audit import Actor, record
from containerguard.server.store import transaction
from containerguard.server.store.models import utcnow
from containerguard.server.webui import charts, pages_manage, pages_risk, views
from containerguard.server.webui.console import Console, NotAllowed, Viewer

T = TypeVar("T")
SSE_POLL_SECONDS = 1.0
#: hosts and containers beside the alert timeline: the most recent few (a host's page lists its own)
RUNTIME_SIDE_ROWS = 15
SSE_RECHECK_SECONDS = 15.0


def _sessions(request: Request) -> Any:
    return request.app.state.cg.sessions


@contextmanager
def _tx(request: Request) -> Iterator[Session]:
    with transaction(_sessions(request)) as s:
        yield s


@contextmanager
def _read(request: Request) -> Iterator[Session]:
    """A session for a page that only reads: the server's autocommit read sessions where it has them (no
    BEGIN/COMMIT round trips on PostgreSQL, as the API's list endpoints), else a transaction."""
    st = request.app.state.cg
    with transaction(getattr(st, "reads", None) or st.sessions) as s:
        yield s


def actor_of(request: Request, viewer: Viewer) -> Actor:
    p = viewer.principal
    token_id = int(p.credential.split(":", 1)[1]) if p.credential.startswith("token:") else None
    return Actor(f"{p.name} (console)" if token_id is None else p.name, p.role, token_id, p.host or "",
                 request.client.host if request.client else "")


def _query(request: Request, drop: tuple[str, ...] = ("page",)) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop])


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _back(request: Request, fallback: str) -> str:
    """Where a no-JavaScript form post returns: the page it came from when that is ours, else fallback."""
    from urllib.parse import urlsplit

    from containerguard.server.webui.security import safe_next

    ref = request.headers.get("referer", "")
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return fallback
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, fallback) if path else fallback


class ActionFailed(Exception):
    """A service refused an action (bad input, not found, conflict): shown to the person, nothing written."""

    def __init__(self, response: Response) -> None:
        super().__init__("action failed")
        self.response = response


async def _attempt(console: Console, request: Request, viewer: Viewer, work: Callable[[], T]) -> T:
    """Run a service call in the thread pool; its ContainerGuardError becomes a one-line message on the page
    (in place with htmx), with the status code the API would give."""
    from sqlalchemy.exc import DataError, IntegrityError

    from containerguard.server.services import Conflict, Invalid, refused_by_database

    try:
        try:
            return await run_in_threadpool(work)
        except (IntegrityError, DataError, OverflowError) as db_exc:
            # what the API answers 409/422 for (a name taken at the same moment, an id past the column's range)
            raise refused_by_database(db_exc) or Invalid(str(db_exc)) from None
    except ContainerGuardError as exc:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422 if isinstance(exc, Invalid) else 400
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if _is_htmx(request):
            # only the status line changes (out of band); the row the form sits in stays as it was
            raise ActionFailed(HTMLResponse(f'<p id="live" class="flash error" role="alert" hx-swap-oob="true">'
                                            f'{_esc(text)}</p>', status_code=status,
                                            headers={"HX-Reswap": "none"})) from None
        raise ActionFailed(console.render(request, "error.html", viewer, "", status, title="Not done",
                                          message=text)) from None


def build(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    _dashboard(router, console)
    _images(router, console)
    _findings(router, console)
    _runtime(router, console)
    _runtime_stream(router, console)
    _audit_and_manage(router, console)
    pages_risk.build(router, console)
    return router


def _dashboard(router: APIRouter, console: Console) -> None:
    """Dashboard."""
    render = console.render

    @router.get("/", response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        viewer = console.viewer(request, "dashboard")
        now = utcnow()
        with _read(request) as s:
            counts = views.severity_counts(s)
            db = views.db_status(s)
            ctx: dict[str, Any] = dict(
                top_risks=views.top_risks(s), bars=charts.severity_bars(counts),
                trend=charts.trend_lines(views.trend(s, live=counts)), db=db, new_since=views.new_since(s, db.updated),
                kev_running=views.kev_running(s),
                alert_counts=views.alert_counts(s, now - dt.timedelta(hours=24)),
                recent_alerts=views.alerts(s, views.AlertFilter(), limit=8).rows,
                registries=views.registries(s), hosts=views.hosts(s, limit=10),
            )
        return render(request, "dashboard.html", viewer, "dashboard", title="Dashboard", **ctx)


def _images(router: APIRouter, console: Console) -> None:
    """Images."""
    render = console.render

    @router.get("/images", response_class=HTMLResponse)
    def images_page(request: Request, q: str = "", sort: str = "risk", running: str = "", page: str = "1") -> Response:
        viewer = console.viewer(request, "images")
        q = q[:200]
        with _read(request) as s:
            rows = views.images(s, q=q, sort=sort, running_only=running == "1", page=views.page_number(page))
        return render(request, "images.html", viewer, "images", title="Images", page=rows, q=q, sort=sort,
                      running=running, sorts=views.IMAGE_SORTS, base_query=_query(request))

    @router.get("/images/{digest}", response_class=HTMLResponse)
    def image_page(request: Request, digest: str, severity: str = "", fixable: str = "", kev: str = "",
                   type: str = "", status: str = "open", page: str = "1") -> Response:
        viewer = console.viewer(request, "images")
        flt = views.FindingFilter(severity, fixable, kev, type[:40], status if status in ("open", "excepted", "all") else "open")
        with _read(request) as s:
            img = views.image(s, digest)
            if img is None:
                return render(request, "error.html", viewer, "images", 404, title="No such image",
                              message="No image with that digest is stored.")
            ctx: dict[str, Any] = dict(image=img, f=flt, findings=views.findings(s, img.id, flt, page=views.page_number(page)),
                       package_types=views.package_types(s, img.id), others=views.other_findings(s, img.id),
                       running=views.where_runs(s, digest), layers=views.layers(s, img.id))
        return render(request, "image.html", viewer, "images", title=img.name or digest,
                      base_query=_query(request), default_expiry=_default_expiry(), **ctx)

    @router.get("/images/{digest}/sbom")
    def image_sbom(request: Request, digest: str, format: str = "cyclonedx") -> Response:
        viewer = console.viewer(request, "images")
        del viewer
        fmt = {"cyclonedx": "cyclonedx", "spdx": "spdx-json"}.get(format)
        if fmt is None:
            return Response("format must be cyclonedx or spdx\n", status_code=422, media_type="text/plain")
        with _read(request) as s:
            img = views.image(s, digest)
            if img is None:
                return Response("no such image\n", status_code=404, media_type="text/plain")
            text, media, ext = views.sbom(s, img, fmt)
        return Response(text, media_type=media,
                        headers={"Content-Disposition": attachment(f"{img.name or img.digest}.{ext}")})

    @router.post("/images/{digest}/rescan")
    async def rescan(request: Request, digest: str) -> Response:
        viewer, _ = await console.acting(request, "rescan", "images")

        def work() -> str:
            with _tx(request) as s:
                img = views.image(s, digest)
                if img is None:
                    raise NotFound("no such image")
                record(s, actor_of(request, viewer), "image.rescan", "image", img.digest, via="console")
                image_id = img.id
            request.app.state.cg.jobs.defer("rescan_image", image_id=image_id)
            return f"Rescan of {digest[:19]} queued."

        msg = await _attempt(console, request, viewer, work)
        return _done(console, request, msg, f"/images/{digest}")


def _findings(router: APIRouter, console: Console) -> None:
    """Findings: accept as a risk or mark a false positive."""

    @router.post("/findings/{finding_id}/accept")
    async def accept(request: Request, finding_id: int) -> Response:
        viewer, form = await console.acting(request, "accept", "images")

        def work() -> tuple[str, str, views.FindingView | None]:
            with _tx(request) as s:
                found = views.finding(s, finding_id)
                if found is None:
                    raise NotFound(f"no finding {finding_id}")
                f, img = found
                scope = form.get("scope", "finding")
                repo = ""
                if scope == "repository":
                    names = views.repositories_of(s, img.id)
                    repo = names[0] if names else ""
                exc_svc.create(s, actor_of(request, viewer), vuln_id=f.vuln_id, scope=scope,
                               kind=form.get("kind", "risk_accepted"), reason=form.get("reason", "")[:2000],
                               image_digest=img.digest, repository=repo, package_name=f.package_name,
                               expires_at=_parse_expiry(form.get("expires", "")))
                kind = form.get("kind", "risk_accepted").replace("_", " ")
                return f"{f.vuln_id} in {f.package_name or img.digest[:19]}: {kind}.", img.digest, None

        msg, digest, _ = await _attempt(console, request, viewer, work)
        if _is_htmx(request):
            # the row leaves the open list; the status line says what happened
            return HTMLResponse(f'<p id="live" class="flash ok" role="status" hx-swap-oob="true">'
                                f'{_esc(msg)}</p>')
        return _done(console, request, msg, f"/images/{digest}")


def _runtime(router: APIRouter, console: Console) -> None:
    """Runtime."""
    render = console.render

    @router.get("/runtime", response_class=HTMLResponse)
    def runtime(request: Request, page: str = "1") -> Response:
        viewer = console.viewer(request, "runtime")
        only = _forced_host(viewer)
        flt = _alert_filter(request)
        with _read(request) as s:
            ctx: dict[str, Any] = dict(hosts=views.hosts(s, only, limit=RUNTIME_SIDE_ROWS),
                       containers=views.containers(s, only, limit=RUNTIME_SIDE_ROWS),
                       alerts=views.alerts(s, flt, page=views.page_number(page), forced_host=only),
                       last_id=views.last_alert_id(s))
        stream_q = _query(request)
        stream_url = f"/runtime/stream?after={ctx['last_id']}" + (f"&{stream_q}" if stream_q else "")
        return render(request, "runtime.html", viewer, "runtime", title="Runtime", af=flt, only_host=only,
                      host_name=None, priorities=views.PRIORITIES, stream_url=stream_url,
                      base_query=_query(request), filter_action="/runtime", **ctx)

    @router.get("/runtime/hosts/{name:path}", response_class=HTMLResponse)  # an agent host name may hold a /
    def host_page(request: Request, name: str, page: str = "1") -> Response:
        viewer = console.viewer(request, "runtime")
        only = _forced_host(viewer)
        if only is not None and name != only:
            raise NotAllowed("another host")
        flt = dataclasses.replace(_alert_filter(request), host=name)
        with _read(request) as s:
            ctx: dict[str, Any] = dict(hosts=views.hosts(s, name), containers=views.containers(s, name, limit=RUNTIME_SIDE_ROWS),
                       alerts=views.alerts(s, flt, page=views.page_number(page), forced_host=name),
                       last_id=views.last_alert_id(s),
                       baselines=[b for b, _h in host_svc.list_baselines(s, host=name, limit=100)])
        stream_q = _query(request, drop=("page", "host"))
        return render(request, "runtime.html", viewer, "runtime", title=f"Host {name}", af=flt, only_host=name,
                      host_name=name, priorities=views.PRIORITIES,
                      stream_url=f"/runtime/stream?after={ctx['last_id']}&{urlencode({'host': name})}"
                                 + (f"&{stream_q}" if stream_q else ""),
                      base_query=_query(request), filter_action=f"/runtime/hosts/{quote(name, safe='')}", **ctx)

    @router.get("/runtime/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_page(request: Request, alert_id: int) -> Response:
        viewer = console.viewer(request, "runtime")
        with _read(request) as s:
            a = views.alert(s, alert_id, _forced_host(viewer))
        if a is None:
            return render(request, "error.html", viewer, "runtime", 404, title="No such alert",
                          message="No alert with that number is visible to you.")
        fields = sorted((k, v) for k, v in a.fields.items() if not k.startswith("_"))
        return render(request, "alert.html", viewer, "runtime", title=f"Alert {a.rule}", a=a,
                      tree=views.process_tree(a), responses=views.responses(a), fields=fields[:200])

    @router.post("/runtime/alerts/{alert_id}/ack")
    async def acknowledge(request: Request, alert_id: int) -> Response:
        viewer, _ = await console.acting(request, "acknowledge", "runtime")

        def work() -> views.AlertView:
            with _tx(request) as s:
                a = views.alert(s, alert_id, _forced_host(viewer))
                if a is None:
                    raise NotFound(f"no alert {alert_id}")
                views.acknowledge(s, alert_id, actor_of(request, viewer))
                got = views.alert(s, alert_id)
                assert got is not None
                return got

        a = await _attempt(console, request, viewer, work)
        if _is_htmx(request):
            return HTMLResponse(console.fragment("alert_row.html", a=a, csrf=viewer.csrf, may=viewer.may))
        return _done(console, request, f"Alert {alert_id} acknowledged.", f"/runtime/alerts/{alert_id}")



def _runtime_stream(router: APIRouter, console: Console) -> None:
    """The alert timeline's live updates: server-sent events of new alert rows."""

    @router.get("/runtime/stream")
    async def stream(request: Request, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0) -> Response:
        # bounded: past the id column's range the first poll failed after the stream had started (a torn stream)
        viewer = console.viewer(request, "runtime")
        only = _forced_host(viewer)
        flt = _alert_filter(request)

        async def events() -> AsyncIterator[bytes]:
            last = after
            checked = asyncio.get_running_loop().time()
            yield b"retry: 3000\n\n"
            while not await request.is_disconnected():
                def poll(last_id: int = last) -> list[views.AlertView]:
                    with _read(request) as s:
                        return list(views.alerts(s, flt, forced_host=only, after_id=last_id, limit=50).rows)

                rows = await run_in_threadpool(poll)
                for a in rows:
                    last = max(last, a.id)
                    html = console.fragment("alert_row.html", a=a, csrf=viewer.csrf, may=viewer.may)
                    data = "".join(f"data: {line}\n" for line in html.splitlines() if line.strip())
                    yield f"event: alert\nid: {a.id}\n{data}\n".encode()
                now = asyncio.get_running_loop().time()
                if now - checked > SSE_RECHECK_SECONDS:  # a revoked token ends the stream too
                    checked = now
                    if await run_in_threadpool(console.current, request) is None:
                        yield b"event: logout\ndata: session ended\n\n"
                        return
                    yield b": keep-alive\n\n"
                await asyncio.sleep(SSE_POLL_SECONDS)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _audit_and_manage(router: APIRouter, console: Console) -> None:
    """Audit and manage."""
    render = console.render

    @router.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, actor: str = "", action: str = "", page: str = "1") -> Response:
        viewer = console.viewer(request, "audit")
        with _read(request) as s:
            entries = views.audit(s, actor=actor[:200], action=action[:64], page=views.page_number(page))
        return render(request, "audit.html", viewer, "audit", title="Audit log", entries=entries, actor=actor,
                      action=action, base_query=_query(request))

    def _manage(request: Request, viewer: Viewer, new_token: str | None = None, status: int = 200,
                registry_form: pages_manage.FormState | None = None,
                target_form: pages_manage.FormState | None = None) -> Response:
        with _read(request) as s:
            ctx: dict[str, Any] = dict(registries=views.registries(s), targets=views.targets(s), dead_letters=views.dead_letters(s),
                       db=views.db_status(s, full=True),
                       tokens=views.tokens(s) if auth.allowed(viewer.role, "tokens:admin") else None)
        return render(request, "manage.html", viewer, "manage", status, title="Manage", roles=auth.ROLE_NAMES,
                      new_token=new_token, rf=registry_form or pages_manage.FormState(values={"interval": "60"}),
                      tf=target_form or pages_manage.FormState(values={"kind": "webhook", "min_severity": "unknown",
                                                                       "min_priority": "debug"}),
                      event_types=pages_manage.EVENT_TYPES, severity_choices=pages_manage.SEVERITY_CHOICES,
                      priority_choices=pages_manage.PRIORITY_CHOICES, target_kinds=pages_manage.TARGET_KINDS, **ctx)

    pages_manage.build(router, console, _manage, actor_of)

    @router.get("/manage", response_class=HTMLResponse)
    def manage(request: Request) -> Response:
        return _manage(request, console.viewer(request, "manage"))

    @router.post("/manage/registries/{registry_id}/sync")
    async def registry_sync(request: Request, registry_id: int) -> Response:
        viewer, _ = await console.acting(request, "registry-sync", "manage")

        def work() -> str:
            with _tx(request) as s:
                name = views.registry_name(s, registry_id)
                if name is None:
                    raise NotFound(f"no registry {registry_id}")
                # the same audit entry and job (one poll at a time per registry) as POST /registries/{name}/poll
                record(s, actor_of(request, viewer), "registry.poll", "registry", registry_id, name=name)
            request.app.state.cg.jobs.defer("poll_registry", registry_id=registry_id, _lock=f"poll-{registry_id}")
            return f"Sync of registry {name} queued."

        return _done(console, request, await _attempt(console, request, viewer, work), "/manage")

    @router.post("/manage/tokens")
    async def token_create(request: Request) -> Response:
        viewer, form = await console.acting(request, "manage-write", "tokens")

        def work() -> str:
            with _tx(request) as s:
                _, secret = token_svc.create(s, actor_of(request, viewer), name=form.get("name", ""),
                                             role=form.get("role", ""), host=form.get("host", "").strip())
                return secret

        secret = await _attempt(console, request, viewer, work)
        return _manage(request, viewer, new_token=secret)

    @router.post("/manage/tokens/{token_id}/revoke")
    async def token_revoke(request: Request, token_id: int) -> Response:
        viewer, _ = await console.acting(request, "manage-write", "tokens")

        def work() -> None:
            with _tx(request) as s:
                token_svc.revoke(s, actor_of(request, viewer), token_id)

        await _attempt(console, request, viewer, work)
        return _done(console, request, f"Token {token_id} revoked.", "/manage")

    @router.get("/no-access", response_class=HTMLResponse)
    def no_access(request: Request) -> Response:
        viewer = console.current(request)
        return render(request, "error.html", viewer, "", 403, title="No access",
                      message="Your role has no page in the console.")



def _alert_filter(request: Request) -> views.AlertFilter:
    g = request.query_params.get
    return views.AlertFilter(*(str(g(k, "") or "")[:200] for k in ("priority", "rule", "host", "container", "image",
                                                                    "since", "until")))


def _forced_host(viewer: Viewer) -> str | None:
    """Agent tokens see their own host only."""
    return (viewer.host or "\x00none") if viewer.role == "agent" else None


def _default_expiry() -> str:
    return (utcnow() + dt.timedelta(days=30)).date().isoformat()


def _parse_expiry(raw: str) -> dt.datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw[:10])
    except ValueError:
        from containerguard.server.services import Invalid

        raise Invalid(f"expiry {raw[:20]!r} is not a date (YYYY-MM-DD)") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for a download named after stored data (an image name from an upload or a
    registry): RFC 6266 -- a plain ASCII ``filename`` (letters, digits, ``.``, ``-``, ``_`` only) and the exact name
    as UTF-8 in ``filename*``. A quote, a semicolon or a CR/LF cannot end the header's value and a
    non-Latin-1 character cannot make the response fail (it was a 500, and a CR/LF a dropped connection)."""
    import re

    name = filename.replace("/", "_").replace(":", "_")[-150:]
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _esc(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def _done(console: Console, request: Request, message: str, fallback: str) -> Response:
    """After an action: the status line in place (htmx), else back to the page the form was on."""
    if _is_htmx(request):
        return HTMLResponse(f'<p id="live" class="flash ok" role="status" hx-swap-oob="true">{_esc(message)}</p>')
    return console.flash_redirect(request, _back(request, fallback), message)


__all__ = ["ContainerGuardError", "build"]
