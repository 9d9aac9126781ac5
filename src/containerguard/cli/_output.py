"""Where a command's report goes: a file (``-o``) or stdout. One place for the write and its error."""

from __future__ import annotations

import sys
from pathlib import Path

from containerguard.errors import UsageError


def emit(text: str, output: Path | None) -> None:
    """Write ``text`` (newline-terminated) to ``output``, or to stdout when it is None."""
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
