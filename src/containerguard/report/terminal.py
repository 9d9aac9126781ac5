"""Text from the data (package names, advisory titles, file paths, manifest names, rule text) shown in a
terminal: never Rich markup, never a control sequence.

Rich reads ``[bold]`` in any ``str`` it prints (a ``[/x]`` with no opening tag even raises), and a raw
``ESC [ 2 J`` in a package name would clear the screen. Every line that carries data goes through
:func:`clean` (control characters made visible); tables are drawn by :func:`render_table` (no Rich, so no
markup at all; one line per row, cut to the terminal's width) and prose by :func:`wrap`; a Rich
:func:`console` (progress bars) has markup and emoji codes off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # Rich is imported only for a progress bar: `clean` and the tables are on start-up paths
    from rich.console import Console

#: C0 controls but tab and newline, DEL, C1 controls; the bidi marks, embeddings, overrides and isolates that
#: reorder what is shown; the Unicode line and paragraph separators (a line break in some terminals and editors);
#: lone surrogates (an undecodable byte of a file or process name, kept by surrogateescape: no stream can encode them)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: str, *, oneline: bool = False) -> str:
    """``text`` with control characters shown as ``\\xNN`` (newlines kept unless ``oneline``)."""
    if text.isprintable():  # the common case, at C speed: nothing to replace
        return text
    out = _CONTROL.sub(_visible, text)
    return out.replace("\r\n", "\n").replace("\n", " ") if oneline else out


def console(file: IO[str] | None = None, **kw: Any) -> Console:
    """A Console for data: markup, emoji codes and highlighting off (styles come from Text objects)."""
    from rich.console import Console

    return Console(file=file, markup=False, emoji=False, highlight=False, **kw)


# --------------------------------------------------------------------------- tables that fit the terminal


@dataclass(frozen=True, slots=True)
class Column:
    """One table column. ``shrink``: how readily it gives up width when the table is wider than the
    terminal (0 never but as a last resort; the highest first: titles and locations before ids); ``right``
    justifies numbers; ``tail`` cuts from the left, keeping the end (a path's file name and line)."""

    header: str
    shrink: int = 0
    right: bool = False
    tail: bool = False


#: ANSI codes for the styles the tables use (only with color=True, i.e. a terminal)
ANSI = {"bold red": "\x1b[1;31m", "red": "\x1b[31m", "yellow": "\x1b[33m", "cyan": "\x1b[36m", "dim": "\x1b[2m",
        "green": "\x1b[32m", "bold": "\x1b[1m"}
_MIN_SHRUNK = 8  # a shrinking column keeps this many cells (or its header's) before the last resort


def terminal_width(default: int = 120) -> int:
    """``COLUMNS`` when set, else the terminal's width, else ``default`` (output to a pipe or file)."""
    import shutil

    return max(shutil.get_terminal_size((default, 24)).columns, 20)


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes (wide East Asian characters two, combining marks none)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, width: int, *, tail: bool = False) -> str:
    """``text`` cut to ``width`` cells, with an ellipsis where it was cut (at the start with ``tail``)."""
    if cells(text) <= width:
        return text
    if width <= 0:
        return ""
    if text.isascii():
        return "…" + text[len(text) - width + 1:] if tail else text[: width - 1] + "…"
    out, used = [], 0
    for c in reversed(text) if tail else text:
        w = cells(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "…" + "".join(reversed(out)) if tail else "".join(out) + "…"


def _widths(columns: Sequence[Column], natural: list[int], width: int) -> list[int]:
    """Column widths whose table (borders included) is at most ``width`` cells: shrinking columns give up
    room first (the widest first, down to a readable width, then to a stub), then every column in turn."""
    widths = list(natural)
    room = width - (3 * len(columns) + 1)
    # one pool: the widest shrinking column gives first, so long titles, paths and evidence end up sharing
    # the room evenly; ``shrink`` only breaks ties (the higher gives first)
    ranks = [1] if any(c.shrink > 0 for c in columns) else []
    for floor in (_MIN_SHRUNK, 4):  # shrinking columns to a readable width, then to a stub, before the rest
        floors = [min(n, max(floor, cells(c.header) if floor == _MIN_SHRUNK else 0))
                  for c, n in zip(columns, natural, strict=True)]
        for rank in ranks:
            idx = [i for i, c in enumerate(columns) if c.shrink >= rank]
            excess = sum(widths) - room
            while excess > 0:
                cand = [k for k in idx if widths[k] > floors[k]]
                if not cand:
                    break
                i = max(cand, key=lambda k: (widths[k], columns[k].shrink))
                nxt = max([widths[k] for k in cand if k != i] + [floors[i]])
                step = min(excess, max(widths[i] - nxt, 1))
                widths[i] -= step
                excess -= step
    excess = sum(widths) - room
    while excess > 0 and any(w > 1 for w in widths):  # the last resort: the widest column gives a cell
        i = max(range(len(widths)), key=widths.__getitem__)
        widths[i] -= 1
        excess -= 1
    return widths


def render_table(title: str, columns: Sequence[Column | str], rows: Iterable[Sequence[object]], *,
                 width: int | None = None, styles: Sequence[str] = (), style_column: int = -1,
                 color: bool = False, drop_empty: bool = False) -> str:
    """A table as text, one line per row, never wider than ``width`` (default: :func:`terminal_width`).

    Every value is shown literally: no markup is read (no Rich here), control characters are made visible
    (:func:`clean`), and a value longer than its column is cut with an ellipsis on its one line (the full
    text is in the JSON and HTML reports). Linear in the rows: some 3 µs a cell, where a Rich table costs
    about a millisecond a row. ``styles[k]`` colours row ``k``'s ``style_column`` when ``color``;
    ``drop_empty`` leaves out the columns no row has a value in (a Layer column of a directory scan)."""
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    width = width or terminal_width()
    body = [[s if s.isprintable() else clean(s, oneline=True) for s in ("" if v is None else str(v) for v in r)]
            for r in rows]
    if drop_empty and body:
        keep = [i for i in range(len(cols)) if any(r[i] for r in body)]
        if len(keep) < len(cols):
            style_column = keep.index(style_column) if style_column in keep else -1
            cols = [cols[i] for i in keep]
            body = [[r[i] for i in keep] for r in body]
    natural = [max([cells(c.header), *(cells(r[i]) for r in body)]) for i, c in enumerate(cols)]
    widths = _widths(cols, natural, width)
    pairs = list(zip(cols, widths, strict=True))

    def one(v: str, w: int, c: Column) -> str:
        if v.isascii() and len(v) <= w:  # the common case: a cell is a character, and it fits
            return v.rjust(w) if c.right else v.ljust(w)
        text = fit(v, w, tail=c.tail)
        pad = " " * (w - cells(text))
        return pad + text if c.right else text + pad

    def line(values: Sequence[str], style: str = "") -> str:
        parts = [one(v, w, c) for v, (c, w) in zip(values, pairs, strict=True)]
        if color and style in ANSI and 0 <= style_column < len(parts):
            parts[style_column] = f"{ANSI[style]}{parts[style_column]}\x1b[0m"
        return "│ " + " │ ".join(parts) + " │"

    out = [fit(clean(title, oneline=True), width)] if title else []
    out.append("┌" + "┬".join("─" * (w + 2) for w in widths) + "┐")
    out.append(line([c.header for c in cols]))
    out.append("├" + "┼".join("─" * (w + 2) for w in widths) + "┤")
    out += [line(r, styles[k] if k < len(styles) else "") for k, r in enumerate(body)]
    out.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    return "\n".join(out) + "\n"


def wrap(text: str, width: int | None = None, sep: str = " | ") -> str:
    """A line of prose from the data (a summary, a note) made literal and wrapped to ``width`` cells: at the
    ``sep`` between its parts (each line but the last ends with it, trimmed), then at spaces."""
    import textwrap

    width = width or terminal_width()
    text = clean(text, oneline=True)
    if cells(text) <= width:
        return text
    lines: list[str] = []
    parts = text.split(sep)
    current = ""
    for k, part in enumerate(parts):
        piece = part + (sep.rstrip() if k < len(parts) - 1 else "")
        joined = f"{current}{' ' if current else ''}{piece}"
        if current and cells(joined) > width:
            lines.append(current)
            current = piece
        else:
            current = joined
    lines.append(current)
    out: list[str] = []
    for ln in lines:
        out += [fit(x, width) for x in textwrap.wrap(ln, width, break_long_words=True, break_on_hyphens=False)
                ] if cells(ln) > width else [ln]
    return "\n".join(out)
