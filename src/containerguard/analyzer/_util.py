"""Small helpers shared by the analyzers (reading bounded text, path tests)."""

from __future__ import annotations

import codecs
import re
import stat
import zipfile
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


#: the central directory of a zip (jar, war, egg) is read whole by zipfile, at about ten times its size
#: in memory: an 86 MB jar of a million empty entries took 590 MB. Real archives stay far below this.
MAX_ZIP_DIRECTORY = 16 << 20


def open_zip(stream: IO[bytes]) -> zipfile.ZipFile:
    """``zipfile.ZipFile(stream)``, refused with BadZipFile when its central directory (the size its end
    record gives, zip64 included: what zipfile reads) is over MAX_ZIP_DIRECTORY bytes."""
    stream.seek(0, 2)
    end = stream.tell()
    n = min(end, 22 + 0xFFFF + 20)
    stream.seek(end - n)
    tail = stream.read(n)
    i = tail.rfind(b"PK\x05\x06")
    size = int.from_bytes(tail[i + 12:i + 16], "little") if i >= 0 else 0
    if size == 0xFFFFFFFF and i >= 20 and tail[i - 20:i - 16] == b"PK\x06\x07":  # zip64 end record
        stream.seek(int.from_bytes(tail[i - 12:i - 4], "little"))
        rec = stream.read(56)
        if rec[:4] == b"PK\x06\x06":
            size = int.from_bytes(rec[40:48], "little")
    if size > MAX_ZIP_DIRECTORY:
        raise zipfile.BadZipFile(f"central directory of {size} bytes, over the {MAX_ZIP_DIRECTORY}-byte bound")
    stream.seek(0)
    return zipfile.ZipFile(stream)
