"""Small helpers shared by the analyzers (reading bounded text, path tests)."""

from __future__ import annotations

import codecs
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
    """Bounded read decoded by its byte-order mark (UTF-8, UTF-16 and UTF-32, as Windows tools such as
    ``pip freeze >`` in PowerShell write them), UTF-8 without one; invalid bytes replaced, BOM dropped."""
    return decode_text(read_bytes(stream, limit, path))


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes) -> str:
    """``data`` decoded by its byte-order mark, UTF-8 without one (invalid bytes replaced)."""
    for bom, codec in _BOMS:  # UTF-32 LE before UTF-16 LE: its BOM starts with UTF-16 LE's
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    return data.decode("utf-8", errors="replace")


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def is_regular(mode: int) -> bool:
    """True for a regular file; a mode with no file-type bits (tar header permissions only) counts as one."""
    fmt = stat.S_IFMT(mode)
    return fmt == 0 or fmt == stat.S_IFREG
