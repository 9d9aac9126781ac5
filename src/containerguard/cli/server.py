"""`containerguard server` (the central server) and `containerguard worker` (its job runner on PostgreSQL)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from containerguard.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def register_worker(app: typer.Typer) -> None:
    app.command("worker")(worker)


def _listen(spec: str) -> tuple[str, int]:
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {spec!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def _settings(db: str | None, data_dir: Path | None, vulndb: Path | None, jobs: str = "auto",
              max_body_mb: int = 64, scheduler: bool = True) -> object:
    from containerguard.server.settings import Settings

    if jobs not in ("auto", "inprocess", "worker"):
        raise UsageError("--jobs takes auto, inprocess or worker")
    db = db or os.environ.get("CONTAINERGUARD_DB") or None
    return Settings(db=db, data_dir=data_dir or Path(), vulndb=str(vulndb) if vulndb else None,
                    inprocess_jobs=None if jobs == "auto" else jobs == "inprocess",
                    max_body_bytes=max_body_mb << 20, scheduler=scheduler)


DbOpt = Annotated[str | None, typer.Option("--db", help="Database: postgresql://USER@HOST/DB or a SQLite path "
                                           "(default: DATA_DIR/containerguard.sqlite; env CONTAINERGUARD_DB)")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite database lives (default: "
                                                 "the user's data directory)")]
VulnDbOpt = Annotated[Path | None, typer.Option("--vulndb", help="Vulnerability database file for rescans and "
                                                "registry scans (default: the user's cache, as `db update` writes)")]


def server(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on")] = "127.0.0.1:8080",
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
    vulndb: VulnDbOpt = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key for --tls-cert")] = None,
    jobs: Annotated[str, typer.Option("--jobs", help="auto (SQLite: in this process; PostgreSQL: `containerguard "
                                      "worker` processes), inprocess or worker")] = "auto",
    max_body_mb: Annotated[int, typer.Option("--max-body-mb", help="Largest request body accepted", min=1)] = 64,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
) -> None:
    """Run the central server: REST API under /api/v1, registry watching, rescans, notifications."""
    import uvicorn

    from containerguard.server.app import create_app, prepare
    from containerguard.server.settings import Settings

    host, port = _listen(listen)
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for p in (tls_cert, tls_key):
        if p is not None and not p.is_file():
            raise UsageError(f"{p} does not exist")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(db, data_dir, vulndb, jobs, max_body_mb)
    assert isinstance(settings, Settings)
    prepared = prepare(settings)
    if prepared.admin_token is not None and not os.environ.get("CONTAINERGUARD_BOOTSTRAP_TOKEN"):
        print(f"admin token (shown once, store it now): {prepared.admin_token}", flush=True)
    app = create_app(settings, engine=prepared.engine)
    scheme = "https" if tls_cert else "http"
    print(f"serving on {scheme}://{host}:{port} (database: {prepared.engine.dialect.name})", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="debug" if verbose else "warning",
                            ssl_certfile=str(tls_cert) if tls_cert else None,
                            ssl_keyfile=str(tls_key) if tls_key else None, proxy_headers=False,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()


def worker(
    db: DbOpt = None,
    vulndb: VulnDbOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Worker name in logs and job records")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Jobs run at once", min=1, max=64)] = 1,
    stalled_after: Annotated[float, typer.Option("--stalled-after", help="Seconds without a heartbeat after which "
                                                 "another worker's running job is retried", min=2)] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
) -> None:
    """Run jobs (registry pulls, rescans, notifications) for servers sharing a PostgreSQL database."""
    from containerguard.server.jobs import run_worker
    from containerguard.server.settings import Settings
    from containerguard.server.store import is_sqlite, make_engine, migrate, session_factory

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(db, None, vulndb, "worker")
    assert isinstance(settings, Settings)
    if is_sqlite(settings.db_url):
        raise UsageError("workers need PostgreSQL (--db postgresql://...); with SQLite the server runs jobs itself")
    engine = make_engine(settings.db_url)
    migrate(engine)
    print(f"worker {name or os.getpid()} running", file=sys.stderr, flush=True)
    run_worker(settings, session_factory(engine), name=name, concurrency=concurrency,
               heartbeat=max(1.0, stalled_after / 6), stalled_after=stalled_after)
