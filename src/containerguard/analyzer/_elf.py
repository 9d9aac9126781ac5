"""A minimal, bounded ELF reader for the binary analyzers (Go build info, cargo-auditable).

It reads only the ELF header, the section header table with its name table, and the program headers:
three or four small reads per file. pyelftools did the same in about 6 ms a file (it parses much more),
which made the two binary analyzers cost 4.7 s over the ~470 executables of a Debian minbase; this reader
takes a few tens of microseconds. Every offset and count is checked against the file size, so a hostile
header gives ``ElfFormatError`` (a ValueError), never a huge read.

:class:`ElfBinaryAnalyzer` is the shared frame of the analyzers that read such files: the path/mode filter,
opening the ELF, and one warning (no packages) for a corrupt file.
"""

from __future__ import annotations

import stat
import struct
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import IO, ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
PF_X, PF_W = 0x1, 0x2
_MAX_SECTIONS = 65535
_MAX_SEGMENTS = 4096
_MAX_SHSTRTAB = 1 << 20

#: extensions of executable files that are never compiled binaries (skipped by ``required``)
SCRIPT_EXTS = (".sh", ".py", ".pl", ".rb", ".js", ".bash", ".txt", ".md", ".json", ".yaml", ".yml", ".conf",
               ".cfg", ".ini", ".xml", ".html", ".css", ".h", ".c", ".go", ".rs", ".java", ".php", ".ps1",
               ".bat", ".awk", ".sed", ".tcl", ".lua", ".jar", ".zip", ".gz", ".png", ".svg")


class ElfFormatError(ValueError):
    pass


#: what reading a hostile ELF can raise besides ElfFormatError
ElfReadErrors = (ValueError, OSError, struct.error, OverflowError, EOFError)


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    flags: int


@dataclass(slots=True)
class Elf:
    stream: IO[bytes]
    size: int
    is64: bool
    little: bool
    sections: dict[str, Section] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)

    def read_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise ElfFormatError(f"read of {size} bytes at {offset} is outside the file ({self.size} bytes)")
        self.stream.seek(offset)
        data = self.stream.read(size)
        if len(data) != size:
            raise ElfFormatError("short read")
        return data

    def section_data(self, name: str, limit: int) -> bytes | None:
        sec = self.sections.get(name)
        if sec is None:
            return None
        return self.read_at(sec.offset, min(sec.size, limit))

    def read_va(self, addr: int, size: int) -> bytes:
        """Bytes of the program's memory image at a virtual address (from the PT_LOAD segments)."""
        for seg in self.segments:
            if seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                return self.read_at(seg.offset + addr - seg.vaddr, size)
        raise ElfFormatError(f"address {addr:#x} is not in the file")


def maybe_binary(path: str, mode: int) -> bool:
    """Cheap path/mode test: an executable regular file whose name does not say it is a script or data."""
    if not mode & 0o111:
        return False
    fmt = stat.S_IFMT(mode)
    if fmt not in (0, stat.S_IFREG):
        return False
    name = path.rsplit("/", 1)[-1].lower()
    return not name.endswith(SCRIPT_EXTS)


def open_elf(stream: IO[bytes]) -> Elf | None:
    """The parsed headers, or None when the stream is not ELF. Raises ElfFormatError on a corrupt ELF."""
    ident = stream.read(64)
    if len(ident) < 52 or not ident.startswith(ELF_MAGIC):
        return None
    stream.seek(0, 2)
    size = stream.tell()
    cls, data = ident[4], ident[5]
    if cls not in (1, 2) or data not in (1, 2):
        raise ElfFormatError("bad ELF class or data encoding")
    is64, little = cls == 2, data == 1
    e = "<" if little else ">"
    if is64:
        if len(ident) < 64:
            raise ElfFormatError("truncated ELF header")
        phoff, shoff = struct.unpack_from(e + "QQ", ident, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", ident, 54)
    else:
        phoff, shoff = struct.unpack_from(e + "II", ident, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", ident, 42)
    elf = Elf(stream=stream, size=size, is64=is64, little=little)
    # program headers: PT_LOAD segments
    if phoff and phnum:
        want = 56 if is64 else 32
        if phentsize < want or phnum > _MAX_SEGMENTS:
            raise ElfFormatError("bad program header table")
        table = elf.read_at(phoff, phentsize * phnum)
        for i in range(phnum):
            base = i * phentsize
            if is64:
                p_type, p_flags, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(e + "IIQQQQ", table, base)
            else:
                p_type, p_offset, p_vaddr, _pa, p_filesz, _m, p_flags = struct.unpack_from(e + "IIIIIII", table, base)
            if p_type == PT_LOAD:
                elf.segments.append(Segment(p_vaddr, p_offset, p_filesz, p_flags))
    # section headers and their names
    if shoff and shnum:
        want = 64 if is64 else 40
        if shentsize < want or shnum > _MAX_SECTIONS or shstrndx >= shnum:
            raise ElfFormatError("bad section header table")
        table = elf.read_at(shoff, shentsize * shnum)
        fmt = e + ("IIQQQQ" if is64 else "IIIIII")
        raw = [struct.unpack_from(fmt, table, i * shentsize) for i in range(shnum)]
        _n, _t, _f, _a, str_off, str_size = raw[shstrndx]
        names = elf.read_at(str_off, min(str_size, _MAX_SHSTRTAB))
        for name_off, _type, _flags, addr, offset, sec_size in raw:
            end = names.find(b"\0", name_off)
            if name_off >= len(names) or end < 0:
                continue
            elf.sections[names[name_off:end].decode("latin-1")] = Section(
                names[name_off:end].decode("latin-1"), addr, offset, sec_size)
    return elf


class ElfBinaryAnalyzer(Analyzer):
    """An analyzer of executable ELF files: ``required`` is :func:`maybe_binary`; ``analyze`` opens the ELF
    (anything else gives an empty result) and calls :meth:`analyze_elf`. A corrupt file, i.e. any of
    ``read_errors`` raised while reading, gives one warning ``PATH: unreadable WHAT: REASON`` and no packages."""

    #: what the analyzer reads, for the warning ("Go build info")
    what: ClassVar[str]
    read_errors: ClassVar[tuple[type[BaseException], ...]] = ElfReadErrors

    def required(self, path: str, mode: int) -> bool:
        return maybe_binary(path, mode)

    @abstractmethod
    def analyze_elf(self, elf: Elf, path: str) -> AnalysisResult:
        """Packages and warnings of one ELF file; may raise any of ``read_errors``."""

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        try:
            if "elf" in inp.shared:  # another binary analyzer of this file parsed it already
                elf = inp.shared["elf"]
            else:
                elf = inp.shared["elf"] = open_elf(inp.stream)
            return AnalysisResult() if elf is None else self.analyze_elf(elf, inp.path)
        except self.read_errors as exc:
            return AnalysisResult(warnings=[f"{inp.path}: unreadable {self.what}: {exc}"])
