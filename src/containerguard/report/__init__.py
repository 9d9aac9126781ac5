"""Report formats: table, json (native), cyclonedx, spdx-json, sarif, html. One lookup table in
:mod:`containerguard.report.plugins`; each format's module is imported when it is first used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from containerguard.report.base import RenderOptions, ReportContext, Reporter, Summary, ordered, summarize
from containerguard.report.plugins import REPORTERS, available, get_reporter

if TYPE_CHECKING:
    from containerguard.report.native import load_findings, load_inventory

__all__ = [
    "REPORTERS",
    "RenderOptions",
    "ReportContext",
    "Reporter",
    "Summary",
    "available",
    "get_reporter",
    "load_findings",
    "load_inventory",
    "ordered",
    "summarize",
]


def __getattr__(name: str) -> Any:
    # the native loaders validate with pydantic: imported only when a document is read back
    if name in ("load_findings", "load_inventory"):
        from containerguard.report import native

        return getattr(native, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
