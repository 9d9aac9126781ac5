"""The local vulnerability database: sources -> build (``update``) -> one SQLite file -> ``VulnDB`` queries.

The names below are imported from their modules on first use (PEP 562), so importing a submodule such as
``containerguard.vulndb.store`` (which the matcher does) never loads the builder and its HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "SourceResult": "build",
    "UpdateResult": "build",
    "update": "build",
    "STALE_AFTER_DAYS": "store",
    "AdvisoryRecord": "store",
    "AffectedRow": "store",
    "DBStatus": "store",
    "KevEntry": "store",
    "SourceStatus": "store",
    "VulnDB": "store",
    "default_db_path": "store",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
