"""Rich tables for people: the package list for SBOMs, findings grouped by kind and ordered by risk."""

from __future__ import annotations

import io
import shutil
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


#: above this many rows a findings table is drawn by :func:`_plain_table` (Rich costs ~1 ms a row)
FAST_ROWS = 2000


def _width(opts_width: int | None) -> int:
    """The table width: the option, else ``COLUMNS`` / the terminal's, else 120."""
    if opts_width:
        return opts_width
    return max(shutil.get_terminal_size((120, 24)).columns, 40)


def _plain_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], width: int,
                 flexible: int, styles: Sequence[str] = (), color: bool = False) -> str:
    """A one-line-per-row table in linear time: every column as wide as its content, the ``flexible``
    one (the title) shrunk to fit ``width`` and cut with an ellipsis (the full text is in JSON/HTML)."""
    cells = [[c if c.isprintable() else clean(c, oneline=True) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    room = width - (3 * len(header) + 1) - sum(w for i, w in enumerate(widths) if i != flexible)
    widths[flexible] = max(min(widths[flexible], room), 8)
    pairs = list(enumerate(widths))

    def line(values: Sequence[str], style: str = "") -> str:
        parts = [(v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, (_i, w) in zip(values, pairs, strict=True)]
        code = _ANSI.get(style, "") if color else ""
        if code and len(parts) > 3:
            parts[3] = f"{code}{parts[3]}\x1b[0m"  # the Severity cell
        return "│ " + " │ ".join(parts) + " │"

    rule = "├" + "┼".join("─" * (w + 2) for w in widths) + "┤"
    out = [title, "┌" + "┬".join("─" * (w + 2) for w in widths) + "┐", line(header), rule]
    out += [line(r, styles[k] if k < len(styles) else "") for k, r in enumerate(cells)]
    out.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    return "\n".join(out) + "\n"


_ANSI = {"bold red": "\x1b[1;31m", "red": "\x1b[31m", "yellow": "\x1b[33m", "cyan": "\x1b[36m", "dim": "\x1b[2m"}


def _vuln_rows(items: Sequence[Finding]) -> list[list[str]]:
    return [[f.package.name if f.package else "", f.package.version if f.package else "",
             f.id + (" KEV" if f.kev else ""), f.severity.name, f.status, ", ".join(f.fixed_versions),
             f"{f.risk:.1f}", f.title] for f in items]


def _vuln_table(title: str, items: Sequence[Finding], width: int) -> Table:
    """Rich table; each title cut to the room the other columns leave, so a finding stays on one line
    (the full title is in JSON/HTML)."""
    rows = _vuln_rows(items)
    header = ("Package", "Installed", "ID", "Severity", "Status", "Fixed in", "Risk", "Title")
    others = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(7)]
    room = max(width - sum(others) - 3 * len(header) - 1, 12)
    t = Table(title=title, title_justify="left", show_lines=False)
    for col in header:
        t.add_column(col, overflow="fold")
    for f, r in zip(items, rows, strict=True):
        r[7] = r[7] if len(r[7]) <= room else r[7][: room - 1] + "…"
        t.add_row(*row(*r[:3], _sev(f.severity), *r[4:]))
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
    width = _width(opts.width)
    console = Console(file=buf, width=width, force_terminal=opts.color, color_system="standard" if opts.color else None,
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
    summary = clean(f"{target}: ") + summarize(findings, suppressed=len(opts.suppressed), scanners=opts.scanners).line()
    items = ordered(findings)
    if not sbom_view and items:  # summary first (and again at the end, where a terminal leaves the eye)
        console.print(summary, soft_wrap=True)
    for kind, title in _GROUPS:
        group = [f for f in items if f.kind is kind]
        if not group:
            continue
        is_vuln = kind in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS)
        if is_vuln and len(group) > FAST_ROWS:
            header = ("Package", "Installed", "ID", "Severity", "Status", "Fixed in", "Risk", "Title")
            buf.write(_plain_table(title, header, _vuln_rows(group), width, 7,
                                   [_STYLE[f.severity] for f in group], bool(opts.color)))
            continue
        table = _vuln_table(title, group, width) if is_vuln else _file_table(title, group)
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
        console.print(summary, soft_wrap=True)
    return buf.getvalue()
