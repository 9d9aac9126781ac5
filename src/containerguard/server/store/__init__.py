"""Storage: the engine for a database URL, Alembic migrations applied at start, sessions.

``sqlite:///PATH`` (the default, in the user's data directory) or ``postgresql://...`` (psycopg 3). SQLite
runs in WAL mode with a busy timeout so the server's threads and the in-process jobs share it; PostgreSQL
is shared by several server processes and workers. ``migrate`` takes a PostgreSQL advisory lock so that
processes starting together apply the migrations once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from containerguard.errors import ServerError

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x6367_5f6d  # "cg_m": the migration advisory lock


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3; a bare path means SQLite."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ServerError(f"invalid database URL: {exc}") from exc
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.drivername.startswith("postgresql"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
        _ping_when_idle(engine)
        return engine
    raise ServerError(f"unsupported database {parsed.drivername!r} (sqlite or postgresql)")


#: a pooled PostgreSQL connection idle longer than this is checked before use (see _ping_when_idle)
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout: a connection that went back to
    the pool less than IDLE_PING_SECONDS ago is handed out as is; an older one is pinged first, and one that
    does not answer (server restarted, idle connection cut by a proxy) is replaced before any request sees
    it. ``pool_pre_ping`` pinged on every checkout: one more wake-up of the server per unit of work, which
    under CPU contention is what the list endpoints' tail was made of. A connection that breaks within the
    window fails one unit of work and SQLAlchemy drops the pool's older connections (its disconnect handling)."""
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn: Any, record: Any) -> None:
        record.info["cg_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("cg_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:
            raise exc.DisconnectionError(f"pooled connection did not answer a ping: {err}") from err


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Apply every migration not yet applied (Alembic ``upgrade head``)."""
    from alembic import command

    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
            cfg = _alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except ServerError:
        raise
    except Exception as exc:
        raise ServerError(f"database migration failed: {exc}") from exc


def migration_state(engine: Engine) -> tuple[str | None, str | None]:
    """(current revision, head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def dialect_insert(session: Session) -> Any:
    """The ``insert`` construct of the session's dialect (PostgreSQL or SQLite): both offer ``on_conflict_do_*``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def begin_write(session: Session) -> None:
    """Make the session's transaction a writer from its first statement, so what it reads stays true until it
    commits. SQLite: ``BEGIN IMMEDIATE`` takes the write lock now (other writers wait their busy timeout,
    readers do not); without it pysqlite runs every SELECT before the first write outside any transaction, and
    another writer can commit between them. PostgreSQL: nothing here -- the caller locks the rows it will
    change (``SELECT ... FOR UPDATE``, in a fixed order). Call it before anything else in the transaction."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads (list and detail endpoints, authentication): the connection runs in
    autocommit, so PostgreSQL answers each statement without the BEGIN and COMMIT round trips a transaction
    costs (psycopg sends BEGIN on its own); each statement sees the data committed when it starts. Under CPU
    contention every round trip is a wake-up of another process, which is what lengthened the list endpoints'
    tail on PostgreSQL. A write through such a session commits at once (authentication's ``last_used``)."""
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
