"""The app factory: ``create_app(settings)`` -> a FastAPI app (REST under /api/v1, /healthz, /readyz, /metrics).

``prepare(settings)`` is what ``containerguard server`` runs first: apply migrations and, on the very first
start, create the admin token (returned once so the CLI can print it; only its hash is stored).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Engine, text

from containerguard import __version__
from containerguard.errors import ContainerGuardError
from containerguard.server import metrics, services
from containerguard.server.api.deps import AuthFailures, State
from containerguard.server.jobs import InProcessQueue, JobContext, JobQueue, ProcrastinateQueue
from containerguard.server.settings import Settings
from containerguard.server.store import (
    make_engine,
    migrate,
    migration_state,
    read_session_factory,
    session_factory,
    transaction,
)
from containerguard.server.store.models import Setting

log = logging.getLogger(__name__)

BOOTSTRAP_ENV = "CONTAINERGUARD_BOOTSTRAP_TOKEN"


@dataclass(frozen=True)
class Prepared:
    engine: Engine
    admin_token: str | None  # set only on the first start, when this call created it


def prepare(settings: Settings, engine: Engine | None = None) -> Prepared:
    """Migrate the database and create the first admin token if there never was one."""
    from containerguard.server.services import tokens
    from containerguard.server.services.audit import SYSTEM

    engine = engine or make_engine(settings.db_url)
    migrate(engine)
    created: str | None = None
    with transaction(session_factory(engine)) as s:
        if engine.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(6367)"))  # two servers starting together: one admin
        if s.get(Setting, "bootstrapped") is None:
            secret = os.environ.get(BOOTSTRAP_ENV) or None
            if secret is not None and (not secret.startswith("cg_") or len(secret) < 24):
                raise ContainerGuardError(f"{BOOTSTRAP_ENV} must start with cg_ and be at least 24 characters")
            _row, token = tokens.create(s, SYSTEM, name="bootstrap-admin", role="admin", secret=secret)
            s.add(Setting(key="bootstrapped", value="1"))
            created = token
    from containerguard.server.services import trend

    with transaction(session_factory(engine)) as s:
        if engine.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(6368)"))  # two servers starting together: one backfill
        trend.backfill(s)  # the 30-day trend of a store that has findings but no earlier day (once)
    return Prepared(engine, created)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (declared length or counted while streaming), and
    count responses by status for /metrics. Pure ASGI, so nothing is buffered."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                await _too_large(self.limit, scope, receive, send)
                return
        seen = 0
        started = False

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return msg

        async def counted(msg: Any) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                status = int(msg["status"])
                metrics.REQUESTS.labels(scope.get("method", ""), str(status)).inc()
                if status == 401:
                    metrics.AUTH_FAILURES.inc()
            await send(msg)

        try:
            await self.app(scope, limited, counted)
        except Exception as exc:
            if started or not _is_too_large(exc):
                raise
            await _too_large(self.limit, scope, receive, send)


def _is_too_large(exc: BaseException) -> bool:
    if isinstance(exc, _TooLarge):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_too_large(e) for e in exc.exceptions)
    return _is_too_large(exc.__cause__) if exc.__cause__ is not None else False


class _TooLarge(Exception):
    pass


async def _too_large(limit: int, scope: Any, receive: Any, send: Any) -> None:
    resp = JSONResponse({"detail": f"request body larger than {limit} bytes"}, status_code=413)
    await resp(scope, receive, send)


def create_app(settings: Settings, *, engine: Engine | None = None, queue: JobQueue | None = None) -> FastAPI:
    engine = engine or make_engine(settings.db_url)
    sessions = session_factory(engine)

    def ctx_factory(q: JobQueue) -> JobContext:
        return JobContext(settings, sessions, q)

    if queue is None:
        queue = (InProcessQueue(ctx_factory, threads=1 if engine.dialect.name == "sqlite" else 2)
                 if settings.jobs_inprocess else ProcrastinateQueue(settings.db_url))
    st = State(settings=settings, sessions=sessions, jobs=queue, failures=AuthFailures(settings.auth_failures_per_minute),
               reads=read_session_factory(engine))
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(engine)
        queue.start()
        metrics.install(sessions, queue)
        ticker = None
        if settings.scheduler:
            from containerguard.server.scheduler import run_scheduler

            ticker = threading.Thread(target=run_scheduler, args=(st, stop), name="cg-scheduler", daemon=True)
            ticker.start()
        try:
            yield
        finally:
            stop.set()
            if ticker is not None:
                ticker.join(10)
            queue.stop()

    app = FastAPI(title="ContainerGuard", version=__version__, lifespan=lifespan,
                  openapi_url="/api/v1/openapi.json",
                  # no Swagger UI: FastAPI's page loads its script from a CDN (jsdelivr), i.e. third-party code
                  # running on the console's origin with a logged-in admin's cookie, and a blank page offline
                  docs_url=None, redoc_url=None,
                  description="The ContainerGuard central server. Every /api/v1 endpoint needs a bearer token "
                              "whose role allows it (docs/server.md).")
    app.state.cg = st
    app.state.engine = engine

    _install_handlers(app)

    from containerguard.server.api import router

    app.include_router(router, prefix="/api/v1")
    from containerguard.server.api.openapi import document

    document(app)  # the OpenAPI document completed from the routes: bearer scheme, permissions, error answers

    _install_ops(app, engine)

    from containerguard.server.webui import mount  # the web console at / (docs/console.md)

    mount(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    from containerguard.server.api.strict import RefuseNul

    app.add_middleware(RefuseNul)
    return app


def _install_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    from containerguard.server.api.strict import validation_response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)  # one line, never the input (a password, or inf, which JSON cannot hold)

    @app.exception_handler(services.NotFound)
    async def _404(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(services.Conflict)
    async def _409(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(services.Invalid)
    async def _422(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(services.Forbidden)
    async def _403(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    from sqlalchemy.exc import DataError, IntegrityError

    @app.exception_handler(IntegrityError)
    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        # the database refused the request's write or value (services.refused_by_database): 409 or 422, one line
        err = services.refused_by_database(exc)
        if err is None:  # pragma: no cover - registered for these three types only
            raise exc
        return JSONResponse({"detail": str(err)}, status_code=409 if isinstance(err, services.Conflict) else 422)

    @app.exception_handler(ContainerGuardError)
    async def _400(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)


def _install_ops(app: FastAPI, engine: Engine) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            current, head = migration_state(engine)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": f"unreachable: {str(exc)[:200]}"}, 503)
        if current != head:
            return JSONResponse({"status": "unavailable", "database": "reachable",
                                 "migrations": f"at {current}, head is {head}"}, 503)
        return JSONResponse({"status": "ready", "database": engine.dialect.name, "migration": current})

    @app.get("/metrics", include_in_schema=False)
    def prom() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
