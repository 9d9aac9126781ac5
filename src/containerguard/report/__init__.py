"""Report formats: table, json (native), cyclonedx, spdx-json, sarif, html. One lookup table in
:mod:`containerguard.report.registry`."""

from containerguard.report.base import RenderOptions, ReportContext, Reporter, Summary, ordered, summarize
from containerguard.report.native import load_findings, load_inventory
from containerguard.report.registry import REPORTERS, available, get_reporter

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
