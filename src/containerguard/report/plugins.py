"""The one lookup table of report formats.

``BUILTIN`` names each built-in format and where its render function lives (``"module:attr"``); the
module is imported on the first render in that format, so a command that writes JSON never imports
the CycloneDX library, Jinja2 or Rich. Third parties register a :class:`Reporter` (or a zero-argument
factory returning one) under the entry point group ``containerguard.reports``. Entry points are loaded
on first use of :func:`get_reporter` for a name that is not built in, or of :func:`available`, never at
import.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from containerguard.errors import ReportError
from containerguard.report.base import RenderFn, ReportContext, Reporter

ENTRY_POINT_GROUP = "containerguard.reports"


class Builtin(NamedTuple):
    name: str
    description: str
    media_type: str
    extension: str
    render: str  # "module:attr", imported on first use


BUILTIN: tuple[Builtin, ...] = (
    Builtin("table", "Rich tables for people", "text/plain", "txt", "containerguard.report.table:render"),
    Builtin("json", "ContainerGuard native JSON (docs/formats.md)", "application/json", "json",
            "containerguard.report.native:render"),
    Builtin("cyclonedx", "CycloneDX 1.6 JSON (SBOM + vulnerabilities)", "application/vnd.cyclonedx+json", "cdx.json",
            "containerguard.report.cyclonedx:render"),
    Builtin("spdx-json", "SPDX 2.3 JSON", "application/spdx+json", "spdx.json", "containerguard.report.spdx:render"),
    Builtin("sarif", "SARIF 2.1.0", "application/sarif+json", "sarif", "containerguard.report.sarif:render"),
    Builtin("html", "Self-contained HTML report", "text/html", "html", "containerguard.report.html:render"),
)


class _LazyRender:
    """A render function named by ``"module:attr"``; the module is imported on the first call."""

    __slots__ = ("_fn", "target")

    def __init__(self, target: str) -> None:
        self.target = target
        self._fn: RenderFn | None = None

    def resolve(self) -> RenderFn:
        if self._fn is None:
            module, _, attr = self.target.partition(":")
            fn: RenderFn = getattr(importlib.import_module(module), attr)
            self._fn = fn
        return self._fn

    def __call__(self, ctx: ReportContext) -> str:
        return (self._fn or self.resolve())(ctx)

    def __repr__(self) -> str:
        return f"<render {self.target}>"


REPORTERS: dict[str, Reporter] = {
    b.name: Reporter(b.name, b.description, b.media_type, b.extension, _LazyRender(b.render)) for b in BUILTIN
}
_loaded_plugins = False


def _load_plugins() -> None:
    global _loaded_plugins
    if _loaded_plugins:
        return
    _loaded_plugins = True
    from importlib.metadata import entry_points  # only when a plugin may be asked for

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
