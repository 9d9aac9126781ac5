"""Tables for people: the package list for SBOMs, findings grouped by kind and ordered by risk.

Drawn by :func:`containerguard.report.terminal.render_table`: every table fits the terminal (``COLUMNS``),
one line per row with long values cut by an ellipsis (the full text is in JSON/HTML), nothing from the data
read as markup or passed through as a control sequence, and linear in the rows (300,000 findings in
seconds). The summary comes first (and again at the end, where a terminal leaves the eye).
"""

from __future__ import annotations

from collections.abc import Sequence

from containerguard.model import Finding, FindingKind, Severity
from containerguard.report.base import ReportContext, ordered, summarize, where
from containerguard.report.terminal import Column, render_table, terminal_width, wrap

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


def _layer(f: Finding) -> str:
    layer = f.layer or (f.package.layer if f.package else None)
    if layer is None:
        return ""
    return f"{layer.index}:{layer.digest.split(':')[-1][:12]}"


#: kept for callers and benches that size their inputs by it: every table is now linear in its rows
FAST_ROWS = 2000

_VULN_COLUMNS = (Column("Package", 1), Column("Installed", 1), Column("ID"), Column("Severity"), Column("Status"),
                 Column("Fixed in", 2), Column("Risk", right=True), Column("Title", 3))
_FILE_COLUMNS = (Column("ID"), Column("Severity"), Column("Location", 2, tail=True), Column("Layer", 1), Column("Title", 3),
                 Column("Evidence", 2))
_PACKAGE_COLUMNS = (Column("Name", 1), Column("Version", 1), Column("Type"), Column("Layer", 3),
                    Column("Location", 2, tail=True))


def _width(opts_width: int | None) -> int:
    """The table width: the option, else ``COLUMNS`` / the terminal's, else 120."""
    return opts_width or max(terminal_width(120), 40)


def _vuln_rows(items: Sequence[Finding]) -> list[list[str]]:
    return [[f.package.name if f.package else "", f.package.version if f.package else "",
             f.id + (" KEV" if f.kev else ""), f.severity.name, f.status, ", ".join(f.fixed_versions),
             f"{f.risk:.1f}", f.title] for f in items]


def _file_rows(items: Sequence[Finding]) -> list[list[str]]:
    # secrets are masked upstream; never print more than Finding.match holds
    return [[f.id, f.severity.name, where(f), _layer(f), f.title, f.match] for f in items]


def render(ctx: ReportContext) -> str:
    inventory, findings, target = ctx.inventory, ctx.findings, ctx.target
    opts = ctx.options
    width = _width(opts.width)
    color = bool(opts.color)
    out: list[str] = []
    sbom_view = opts.show_packages(inventory, findings)
    if sbom_view and inventory is not None:
        os_text = f"{inventory.os.name or inventory.os.family} {inventory.os.version}".strip()
        out.append(wrap(f"{target} ({os_text}): {len(inventory.packages)} packages", width) + "\n")
        pkgs = sorted(inventory.packages, key=lambda p: (p.type, p.name, p.version))
        out.append(render_table("Packages", _PACKAGE_COLUMNS, [
            [p.name, p.version, p.type, f"{p.layer.index}: {p.layer.created_by}" if p.layer else "",
             p.locations[0] if p.locations else ""] for p in pkgs], width=width))
    counts = summarize(findings, suppressed=len(opts.suppressed), scanners=opts.scanners).line()
    if len(f"{target}: {counts.split(' | ')[0]}") <= width:  # wrapped at the " | " between its parts
        summary = wrap(f"{target}: {counts}", width) + "\n"
    else:  # a long target on its own line, then the counts
        summary = wrap(f"{target}:", width) + "\n" + wrap(counts, width) + "\n"
    items = ordered(findings)
    if not sbom_view and items:  # summary first (and again at the end, where a terminal leaves the eye)
        out.append(summary)
    for kind, title in _GROUPS:
        group = [f for f in items if f.kind is kind]
        if not group:
            continue
        styles = [_STYLE[f.severity] for f in group]
        if kind in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS):
            out.append(render_table(title, _VULN_COLUMNS, _vuln_rows(group), width=width, styles=styles,
                                    style_column=3, color=color, drop_empty=True))
        else:
            out.append(render_table(title, _FILE_COLUMNS, _file_rows(group), width=width, styles=styles,
                                    style_column=1, color=color, drop_empty=True))
    if opts.suppressed:
        out.append(render_table("Suppressed", (Column("ID"), Column("Package / location", 2, tail=True), Column("By", 1)),
                                [[f.id, f.package.name if f.package else where(f), f.suppressed_by]
                                 for f in ordered(opts.suppressed)], width=width))
    for line in opts.expired_ignores:
        out.append(wrap(f"warning: expired ignore entry no longer suppresses: {line}", width) + "\n")
    if not sbom_view:
        out.append(summary)
    return "".join(out)
