"""Server settings: one frozen dataclass built by the CLI (flags and ``CONTAINERGUARD_*`` environment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("containerguard")) / "server"


@dataclass(frozen=True)
class Settings:
    #: SQLAlchemy/psycopg URL or a SQLite path; None: ``DATA_DIR/containerguard.sqlite``
    db: str | None = None
    data_dir: Path = Path()
    #: the vulnerability database the server matches with (None: the user's default)
    vulndb: str | None = None
    #: run queued jobs inside the server process (always with SQLite; with PostgreSQL when no worker runs)
    inprocess_jobs: bool | None = None
    max_body_bytes: int = 64 << 20
    #: authentication failures per client address per minute before 429
    auth_failures_per_minute: int = 20
    #: seconds between registry poll checks and notification retries in the scheduler
    tick_seconds: float = 5.0
    scheduler: bool = True

    @property
    def db_url(self) -> str:
        from containerguard.server.store import normalise_url

        if self.db:
            return normalise_url(self.db)
        return normalise_url(str(self.resolved_data_dir / "containerguard.sqlite"))

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if str(self.data_dir) not in ("", ".") else default_data_dir()

    @property
    def jobs_inprocess(self) -> bool:
        from containerguard.server.store import is_sqlite

        if self.inprocess_jobs is not None:
            return self.inprocess_jobs
        return is_sqlite(self.db_url)
