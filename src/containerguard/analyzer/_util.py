"""Small helpers shared by the analyzers (reading bounded text, path tests)."""

from __future__ import annotations

import re
import stat
from typing import IO

from containerguard.errors import AnalyzerError

_PEP503 = re.compile(r"[-_.]+")


def pep503(name: str) -> str:
    """PEP 503 normalised project name."""
    return _PEP503.sub("-", name).lower()


def read_bytes(stream: IO[bytes], limit: int, path: str) -> bytes:
    """Read at most ``limit`` bytes; a bigger file is an AnalyzerError (the caller asked for a bounded read)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise AnalyzerError(f"{path}: file larger than {limit} bytes")
    return data


def read_text(stream: IO[bytes], limit: int, path: str) -> str:
    """Bounded read decoded as UTF-8 (invalid bytes replaced, BOM dropped)."""
    return read_bytes(stream, limit, path).decode("utf-8", errors="replace").lstrip("\ufeff")


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def is_regular(mode: int) -> bool:
    """True for a regular file; a mode with no file-type bits (tar header permissions only) counts as one."""
    fmt = stat.S_IFMT(mode)
    return fmt == 0 or fmt == stat.S_IFREG
