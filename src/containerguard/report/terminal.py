"""Text from the data (package names, advisory titles, file paths, manifest names, rule text) shown in a
terminal: never Rich markup, never a control sequence.

Rich reads ``[bold]`` in any ``str`` it prints (a ``[/x]`` with no opening tag even raises), and a raw
``ESC [ 2 J`` in a package name would clear the screen. Every table cell and every line that carries data
goes through :func:`cell` (a :class:`rich.text.Text`, which Rich never parses as markup) or :func:`clean`
(for plain ``print``); tables are printed on a :func:`console` with markup and emoji codes off.
"""

from __future__ import annotations

import re
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # Rich is imported only when a table is drawn: `clean` is on start-up paths
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

#: C0 controls but tab and newline, DEL, C1 controls; the bidi overrides that reorder what is shown
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: str, *, oneline: bool = False) -> str:
    """``text`` with control characters shown as ``\\xNN`` (newlines kept unless ``oneline``)."""
    if text.isprintable():  # the common case, at C speed: nothing to replace
        return text
    out = _CONTROL.sub(_visible, text)
    return out.replace("\r\n", "\n").replace("\n", " ") if oneline else out


def cell(value: object, style: str = "") -> Text:
    """A table cell that shows ``value`` as it is: no markup, no control sequences, on one line."""
    from rich.text import Text

    return Text(clean("" if value is None else str(value), oneline=True), style=style)


def row(*values: object) -> list[Text]:
    from rich.text import Text

    return [v if isinstance(v, Text) else cell(v) for v in values]


def console(file: IO[str] | None = None, **kw: Any) -> Console:
    """A Console for data: markup, emoji codes and highlighting off (styles come from Text objects)."""
    from rich.console import Console

    return Console(file=file, markup=False, emoji=False, highlight=False, **kw)


def table(title: str = "", *columns: str, **kw: Any) -> Table:
    """A table whose title and headers are shown literally."""
    from rich.table import Table

    t = Table(title=cell(title) if title else None, **kw)
    for c in columns:
        t.add_column(cell(c))
    return t
