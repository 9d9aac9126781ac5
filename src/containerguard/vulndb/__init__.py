"""The local vulnerability database: sources -> build (``update``) -> one SQLite file -> ``VulnDB`` queries."""

from __future__ import annotations

from containerguard.vulndb.build import SourceResult, UpdateResult, update
from containerguard.vulndb.store import (
    STALE_AFTER_DAYS,
    AdvisoryRecord,
    AffectedRow,
    DBStatus,
    KevEntry,
    SourceStatus,
    VulnDB,
    default_db_path,
)

__all__ = [
    "STALE_AFTER_DAYS",
    "AdvisoryRecord",
    "AffectedRow",
    "DBStatus",
    "KevEntry",
    "SourceResult",
    "SourceStatus",
    "UpdateResult",
    "VulnDB",
    "default_db_path",
    "update",
]
