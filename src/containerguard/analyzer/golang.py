"""Go modules from the build information the Go toolchain embeds in every binary it links.

The ``\\xff Go buildinf:`` blob sits in the ``.go.buildinfo`` section (or, when section headers are gone,
at a 16-byte aligned spot of a writable PT_LOAD segment). Two layouts exist:

* Go 1.18+ (flag bit 2): the version string and module info follow the 32-byte header inline, each as a
  uvarint length and bytes;
* older: two pointers (ptrSize bytes each, endianness from flag bit 1) to Go string headers
  (data pointer, length) that are resolved through the program headers.

The module info text has ``path``, ``mod`` (main module), ``dep`` lines and ``=>`` replacement lines.
We emit the main module, each dependency (a replacement wins over what it replaces; one replaced by a local
directory, ``=> ./net (devel)``, is left out with a warning, as the go.mod analyzer does), and ``stdlib`` at the toolchain version ("go1.19.8" -> "v1.19.8") so the detector can match
vulnerabilities of the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, ClassVar

from containerguard.analyzer._elf import Elf, ElfBinaryAnalyzer, ElfReadErrors, open_elf
from containerguard.analyzer.base import AnalysisResult
from containerguard.model import Package
from containerguard.purl import make_purl

MAGIC = b"\xff Go buildinf:"
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
_MAX_STRING = 4 * 1024 * 1024
_MAX_SCAN = 64 * 1024 * 1024
_GO_VERSION = re.compile(r"^go(\d+(?:\.\d+){0,2})(?:(alpha|beta|rc)(\d+))?")


@dataclass(slots=True)
class Module:
    path: str
    version: str
    sum: str = ""
    replace: Module | None = None


@dataclass(slots=True)
class BuildInfo:
    go_version: str
    path: str = ""
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


class BuildInfoError(ValueError):
    pass


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BuildInfoError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def parse_modinfo(text: str) -> tuple[str, Module | None, list[Module], dict[str, str]]:
    """(package path, main module, deps, build settings) from the module info text."""
    path, main, deps, settings = "", None, [], {}
    last: Module | None = None
    for line in text.splitlines():
        cols = line.split("\t")
        kind = cols[0]
        if kind == "path" and len(cols) >= 2:
            path = cols[1]
        elif kind in ("mod", "dep") and len(cols) >= 3:
            mod = Module(cols[1], cols[2], cols[3] if len(cols) > 3 else "")
            if kind == "mod":
                main = mod
            else:
                deps.append(mod)
            last = mod
        elif kind == "=>" and len(cols) >= 2 and last is not None:
            last.replace = Module(cols[1], cols[2] if len(cols) > 2 else "", cols[3] if len(cols) > 3 else "")
        elif kind == "build" and len(cols) >= 2:
            key, _, value = cols[1].partition("=")
            settings[key] = value
    return path, main, deps, settings


def _strip_sentinels(mod: bytes) -> bytes:
    # the linker wraps modinfo in 16-byte sentinels
    if len(mod) >= 33 and mod[-17:-16] == b"\n":
        return mod[16:-16]
    return b""


def decode_buildinfo(header: bytes, read_va: Callable[[int, int], bytes] | None = None) -> tuple[str, str]:
    """(go version, module info text) from the blob starting at the magic; ``read_va(addr, size)`` reads
    the program's memory image (needed only by the pre-1.18 pointer layout)."""
    if len(header) < 32 or not header.startswith(MAGIC):
        raise BuildInfoError("no build info header")
    ptr_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE:
        n, pos = _uvarint(header, 32)
        if n > _MAX_STRING or pos + n > len(header):
            raise BuildInfoError("version string out of range")
        version = header[pos:pos + n]
        pos += n
        n, pos = _uvarint(header, pos)
        if n > _MAX_STRING or pos + n > len(header):
            raise BuildInfoError("module info out of range")
        mod = header[pos:pos + n]
    else:
        if ptr_size not in (4, 8) or read_va is None:
            raise BuildInfoError(f"unsupported pointer size {ptr_size}")
        big = bool(flags & _FLAG_BIG_ENDIAN)
        reader = read_va

        def read_ptr(b: bytes) -> int:
            return int.from_bytes(b[:ptr_size], "big" if big else "little")

        def read_string(addr: int) -> bytes:
            hdr = reader(addr, 2 * ptr_size)
            data_addr, length = read_ptr(hdr), read_ptr(hdr[ptr_size:])
            if length == 0:
                return b""
            if length > _MAX_STRING:
                raise BuildInfoError("string too long")
            return reader(data_addr, length)

        version = read_string(read_ptr(header[16:16 + ptr_size]))
        mod = read_string(read_ptr(header[16 + ptr_size:16 + 2 * ptr_size]))
    return version.decode("utf-8", errors="replace"), _strip_sentinels(mod).decode("utf-8", errors="replace")


def _find_blob(elf: Elf) -> bytes | None:
    data = elf.section_data(".go.buildinfo", _MAX_STRING * 2 + 64)
    if data is not None:
        return data if data.startswith(MAGIC) else None
    # no section headers (stripped with sstrip, or packed): scan writable data segments, 16-byte aligned
    for seg in elf.segments:
        if seg.flags & 0x3 != 0x2:  # PF_W without PF_X
            continue
        data = elf.read_at(seg.offset, min(seg.filesz, _MAX_SCAN, max(0, elf.size - seg.offset)))
        pos = data.find(MAGIC)
        while pos >= 0 and pos % 16:
            pos = data.find(MAGIC, pos + 1)
        if pos >= 0:
            return data[pos:pos + _MAX_STRING * 2 + 64]
    return None


def read_buildinfo(stream: IO[bytes]) -> BuildInfo | None:
    """Build info of a Go ELF binary; None for anything else (not ELF, not Go)."""
    elf = open_elf(stream)
    return None if elf is None else elf_buildinfo(elf)


def elf_buildinfo(elf: Elf) -> BuildInfo | None:
    """Build info of an opened ELF file; None when it is not a Go binary."""
    blob = _find_blob(elf)
    if blob is None:
        return None
    version, modinfo = decode_buildinfo(blob, elf.read_va)
    path, main, deps, settings = parse_modinfo(modinfo)
    return BuildInfo(go_version=version, path=path, main=main, deps=deps, settings=settings)


def stdlib_version(go_version: str) -> str:
    """``go1.19.8`` -> ``v1.19.8``; ``go1.21.0 X:boringcrypto`` -> ``v1.21.0``; a pre-release toolchain as the Go
    vulnerability database writes it (``go1.21rc2`` -> ``v1.21.0-rc.2``, before 1.21.0); "" for devel toolchains."""
    m = _GO_VERSION.match(go_version.strip())
    if not m:
        return ""
    if not m.group(2):
        return f"v{m.group(1)}"
    nums = [*m.group(1).split("."), "0", "0"][:3]
    return f"v{'.'.join(nums)}-{m.group(2)}.{m.group(3)}"


def golang_purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return make_purl("golang", name, version, namespace or None)


class GoBinaryAnalyzer(ElfBinaryAnalyzer):
    type: ClassVar[str] = "gobinary"
    version: ClassVar[int] = 3
    what: ClassVar[str] = "Go build info"
    read_errors = (BuildInfoError, *ElfReadErrors)

    def analyze_elf(self, elf: Elf, path: str) -> AnalysisResult:
        result = AnalysisResult()
        info = elf_buildinfo(elf)
        if info is None:
            return result
        loc = (path,)

        def pkg(name: str, version: str, **meta: str) -> Package:
            return Package(name=name, version=version, type="golang", purl=golang_purl(name, version),
                           locations=loc, analyzer=self.type, metadata={k: v for k, v in meta.items() if v})

        if info.main is not None and info.main.path:
            version = "" if info.main.version == "(devel)" else info.main.version
            result.packages.append(pkg(info.main.path, version, main="true", go_version=info.go_version))
        for dep in info.deps:
            rep = dep.replace
            if rep is None:
                result.packages.append(pkg(dep.path, dep.version))
            elif rep.version in ("", "(devel)") or rep.path.startswith(("./", "../", "/")):
                # a local directory (`=> ./net (devel)`): neither the published module nor a module at all, as
                # the go.mod analyzer says of the same replace line
                result.warnings.append(f"{path}: {dep.path}@{dep.version} is replaced by the local directory "
                                       f"{rep.path}; not reported as a published module")
            else:  # replaced by another module version
                result.packages.append(pkg(rep.path, rep.version, replaces=f"{dep.path}@{dep.version}"))
        std = stdlib_version(info.go_version)
        if std:
            result.packages.append(pkg("stdlib", std, go_version=info.go_version))
        return result
