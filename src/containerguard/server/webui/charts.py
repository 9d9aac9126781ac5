"""Server-side SVG charts: severity counts as horizontal bars and a 30-day trend as lines.

The charts are plain SVG strings built from numbers only (no library, no script, no inline style: the
Content-Security-Policy forbids ``unsafe-inline``); colours come from the stylesheet through classes
(``sev-critical`` ...). Every chart carries a ``<title>`` and a ``<desc>`` with the figures, and the page
shows the same figures in a table, so a screen reader and a no-graphics reader get them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

#: severities in display order (worst first); also the CSS class suffixes
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "unknown")


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Open findings per severity on one day."""

    day: date
    counts: Mapping[str, int]


def _fmt(n: float) -> str:
    return f"{n:.1f}".rstrip("0").rstrip(".")


def severity_bars(counts: Mapping[str, int], *, title: str = "Open findings by severity",
                  width: int = 360) -> str:
    """One bar per severity, scaled to the largest count; the count is written at the end of each bar."""
    rows = [(sev, int(counts.get(sev, 0))) for sev in SEVERITIES]
    top = max((n for _, n in rows), default=0) or 1
    bar_h, gap, label_w, num_w = 18, 8, 72, 64
    plot_w = width - label_w - num_w
    height = len(rows) * (bar_h + gap) + gap
    desc = ", ".join(f"{sev}: {n}" for sev, n in rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-labelledby="cb-t cb-d">',
           f'<title id="cb-t">{escape(title)}</title><desc id="cb-d">{escape(desc)}</desc>']
    for i, (sev, n) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = plot_w * n / top
        out.append(f'<text class="chart-label" x="0" y="{y + bar_h - 4}">{sev}</text>')
        out.append(f'<rect class="sev-{sev}" x="{label_w}" y="{y}" width="{_fmt(max(w, 1 if n else 0))}" '
                   f'height="{bar_h}" rx="2"/>')
        out.append(f'<text class="chart-num" x="{_fmt(label_w + w + 6)}" y="{y + bar_h - 4}">{n:,}</text>')
    out.append("</svg>")
    return "".join(out)


def trend_lines(points: Sequence[TrendPoint], *, title: str = "Open findings, last 30 days",
                width: int = 480, height: int = 180,
                severities: Sequence[str] = ("critical", "high", "medium")) -> str:
    """One polyline per severity over the days given (oldest first), a y axis from 0 to the maximum."""
    left, right, top_pad, bottom = 44, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max((int(p.counts.get(s, 0)) for p in points for s in severities), default=0) or 1
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return top_pad + plot_h - plot_h * v / top

    if points:
        first, last = points[0], points[-1]
        desc = (f"{first.day.isoformat()} to {last.day.isoformat()}; latest "
                + ", ".join(f"{s}: {int(last.counts.get(s, 0))}" for s in severities))
    else:
        desc = "no data yet"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-trend" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-labelledby="ct-t ct-d">',
           f'<title id="ct-t">{escape(title)}</title><desc id="ct-d">{escape(desc)}</desc>',
           f'<line class="chart-axis" x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
           f'y2="{top_pad + plot_h}"/>',
           f'<line class="chart-axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}"/>',
           f'<text class="chart-num" x="{left - 4}" y="{top_pad + 8}" text-anchor="end">{top:,}</text>',
           f'<text class="chart-num" x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end">0</text>']
    if points:
        out.append(f'<text class="chart-label" x="{left}" y="{height - 4}">{escape(points[0].day.isoformat())}</text>')
        out.append(f'<text class="chart-label" x="{width - right}" y="{height - 4}" text-anchor="end">'
                   f'{escape(points[-1].day.isoformat())}</text>')
    for sev in severities:
        coords = " ".join(f"{_fmt(x(i))},{_fmt(y(int(p.counts.get(sev, 0))))}" for i, p in enumerate(points))
        if n == 1:
            out.append(f'<circle class="line-{sev}" cx="{_fmt(x(0))}" cy="{_fmt(y(int(points[0].counts.get(sev, 0))))}" r="3"/>')
        elif n > 1:
            out.append(f'<polyline class="line-{sev}" fill="none" points="{coords}"/>')
    out.append("</svg>")
    return "".join(out)
