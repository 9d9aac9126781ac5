"""The one lookup table of report formats.

Built-ins are listed in ``BUILTIN``; third parties register a :class:`Reporter` (or a zero-argument
factory returning one) under the entry point group ``containerguard.reports``. Entry points are loaded
on first use of :func:`get_reporter`/:func:`available`, never at import.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from containerguard.errors import ReportError
from containerguard.report import cyclonedx, html, native, sarif, spdx, table
from containerguard.report.base import Reporter

ENTRY_POINT_GROUP = "containerguard.reports"

BUILTIN: tuple[Reporter, ...] = (
    Reporter("table", "Rich tables for people", "text/plain", "txt", table.render),
    Reporter("json", "ContainerGuard native JSON (docs/formats.md)", "application/json", "json", native.render),
    Reporter("cyclonedx", "CycloneDX 1.6 JSON (SBOM + vulnerabilities)", "application/vnd.cyclonedx+json", "cdx.json",
             cyclonedx.render),
    Reporter("spdx-json", "SPDX 2.3 JSON", "application/spdx+json", "spdx.json", spdx.render),
    Reporter("sarif", "SARIF 2.1.0", "application/sarif+json", "sarif", sarif.render),
    Reporter("html", "Self-contained HTML report", "text/html", "html", html.render),
)

REPORTERS: dict[str, Reporter] = {r.name: r for r in BUILTIN}
_loaded_plugins = False


def _load_plugins() -> None:
    global _loaded_plugins
    if _loaded_plugins:
        return
    _loaded_plugins = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in REPORTERS:
            continue  # built-ins win; a plugin cannot replace them
        try:
            obj = ep.load()
            rep = obj() if not isinstance(obj, Reporter) and callable(obj) else obj
        except Exception as exc:  # a broken plugin must not break the built-in formats
            raise ReportError(f"report plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        if not isinstance(rep, Reporter):
            raise ReportError(f"report plugin {ep.name!r} ({ep.value}) is not a Reporter")
        REPORTERS[ep.name] = rep


def available() -> list[str]:
    _load_plugins()
    return sorted(REPORTERS)


def get_reporter(name: str) -> Reporter:
    rep = REPORTERS.get(name)
    if rep is None:
        _load_plugins()
        rep = REPORTERS.get(name)
    if rep is None:
        raise ReportError(f"unknown report format {name!r} (available: {', '.join(available())})")
    return rep
