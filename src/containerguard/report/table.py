"""Rich tables for people: the package list for SBOMs, findings grouped by kind and ordered by risk."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from containerguard.model import Finding, FindingKind, Severity
from containerguard.report.base import ReportContext, ordered, summarize, where
from containerguard.report.terminal import clean, row

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNKNOWN: "dim",
}
_GROUPS = (
    (FindingKind.MALICIOUS, "Malicious packages"),
    (FindingKind.VULNERABILITY, "Vulnerabilities"),
    (FindingKind.SECRET, "Secrets"),
    (FindingKind.MISCONFIG, "Misconfigurations"),
    (FindingKind.COMPLIANCE, "Compliance"),
)


def _sev(s: Severity) -> Text:
    return Text(s.name, style=_STYLE[s])


def _layer(f: Finding) -> str:
    layer = f.layer or (f.package.layer if f.package else None)
    if layer is None:
        return ""
    return f"{layer.index}:{layer.digest.split(':')[-1][:12]}"


def _vuln_table(title: str, items: Sequence[Finding]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for col in ("Package", "Installed", "ID", "Severity", "Status", "Fixed in", "Risk", "Title"):
        t.add_column(col, overflow="fold")
    for f in items:
        pkg = f.package
        flags = " KEV" if f.kev else ""
        t.add_row(*row(
            pkg.name if pkg else "", pkg.version if pkg else "", f.id + flags, _sev(f.severity), f.status,
            ", ".join(f.fixed_versions), f"{f.risk:.1f}", f.title,
        ))
    return t


def _file_table(title: str, items: Sequence[Finding]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("ID", "Severity", "Location", "Layer", "Title", "Evidence"):
        t.add_column(col, overflow="fold")
    for f in items:
        # secrets are masked upstream; never print more than Finding.match holds
        t.add_row(*row(f.id, _sev(f.severity), where(f), _layer(f), f.title, f.match))
    return t


def render(ctx: ReportContext) -> str:
    inventory, findings, target = ctx.inventory, ctx.findings, ctx.target
    opts = ctx.options
    buf = io.StringIO()
    # markup off: every string printed here may come from the data (see report.terminal)
    console = Console(file=buf, width=opts.width or 120, force_terminal=opts.color, color_system="standard" if opts.color else None,
                      no_color=not opts.color, highlight=False, emoji=False, soft_wrap=False, markup=False)
    sbom_view = opts.show_packages(inventory, findings)
    if sbom_view and inventory is not None:
        os_text = f"{inventory.os.name or inventory.os.family} {inventory.os.version}".strip()
        console.print(clean(f"{target} ({os_text}): {len(inventory.packages)} packages"), soft_wrap=True)
        t = Table(title="Packages", title_justify="left")
        for col in ("Name", "Version", "Type", "Layer", "Location"):
            t.add_column(col, overflow="fold")
        for p in sorted(inventory.packages, key=lambda p: (p.type, p.name, p.version)):
            layer = f"{p.layer.index}: {p.layer.created_by[:40]}" if p.layer else ""
            t.add_row(*row(p.name, p.version, p.type, layer, p.locations[0] if p.locations else ""))
        console.print(t)
    items = ordered(findings)
    for kind, title in _GROUPS:
        group = [f for f in items if f.kind is kind]
        if not group:
            continue
        table = _vuln_table(title, group) if kind in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS) else _file_table(title, group)
        console.print(table)
    if opts.suppressed:
        t = Table(title="Suppressed", title_justify="left")
        for col in ("ID", "Package / location", "By"):
            t.add_column(col, overflow="fold")
        for f in ordered(opts.suppressed):
            t.add_row(*row(f.id, f.package.name if f.package else where(f), f.suppressed_by))
        console.print(t)
    for line in opts.expired_ignores:
        console.print(clean(f"warning: expired ignore entry no longer suppresses: {line}"), soft_wrap=True)
    if not sbom_view:
        console.print(clean(f"{target}: ") + summarize(findings, suppressed=len(opts.suppressed), scanners=opts.scanners).line(),
                      soft_wrap=True)
    return buf.getvalue()
