"""ELF helpers shared by the binary analyzers (Go build info, cargo-auditable), on top of pyelftools."""

from __future__ import annotations

import stat
import struct
from typing import IO

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"

#: what pyelftools (and construct under it) raise on hostile input: found by fuzzing, e.g. an
#: OverflowError from seeking to a 2**63 offset, struct errors from truncated tables
ElfReadErrors: tuple[type[BaseException], ...] = (
    ELFError, ValueError, OSError, KeyError, IndexError, EOFError, OverflowError, struct.error, TypeError,
    AttributeError, AssertionError, UnicodeDecodeError, RecursionError, MemoryError, ConstructError,
)

#: extensions of executable files that are never compiled binaries (skipped by ``required``)
SCRIPT_EXTS = (".sh", ".py", ".pl", ".rb", ".js", ".bash", ".txt", ".md", ".json", ".yaml", ".yml", ".conf",
               ".cfg", ".ini", ".xml", ".html", ".css", ".h", ".c", ".go", ".rs", ".java", ".php", ".ps1",
               ".bat", ".awk", ".sed", ".tcl", ".lua", ".jar", ".zip", ".gz", ".png", ".svg")


def maybe_binary(path: str, mode: int) -> bool:
    """Cheap path/mode test: an executable regular file whose name does not say it is a script or data."""
    if not mode & 0o111:
        return False
    fmt = stat.S_IFMT(mode)
    if fmt not in (0, stat.S_IFREG):
        return False
    name = path.rsplit("/", 1)[-1].lower()
    return not name.endswith(SCRIPT_EXTS)


def is_elf(stream: IO[bytes]) -> bool:
    head = stream.read(4)
    stream.seek(0)
    return head == ELF_MAGIC


def open_elf(stream: IO[bytes]) -> ELFFile | None:
    """An ELFFile, or None when the stream is not (a readable) ELF."""
    if not is_elf(stream):
        return None
    try:
        return ELFFile(stream)
    except ElfReadErrors:
        return None
