"""The shared frame of the ELF analyzers (analyzer._elf.ElfBinaryAnalyzer) as Go and Rust use it: not-ELF
gives nothing, a corrupt file one warning naming what could not be read and no packages, a good section
its packages. ELF files are assembled here byte by byte (ELF64 little-endian: header, sections, names)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from helpers import run

from containerguard.analyzer._elf import ElfBinaryAnalyzer, maybe_binary
from containerguard.analyzer.base import AnalysisResult
from containerguard.analyzer.golang import MAGIC, GoBinaryAnalyzer
from containerguard.analyzer.rust import RustBinaryAnalyzer


def elf64(sections: dict[str, bytes]) -> bytes:
    """A minimal ELF64 LE file: header, section contents, .shstrtab, section header table."""
    names = b"\0"
    offs: list[tuple[int, int, int]] = []  # (name offset, data offset, size)
    body = b""
    for name, data in sections.items():
        offs.append((len(names), 64 + len(body), len(data)))
        names += name.encode() + b"\0"
        body += data
    shstr_name = len(names)
    names += b".shstrtab\0"
    shstr_off = 64 + len(body)
    body += names
    shoff = 64 + len(body)
    table = bytes(64)  # SHT_NULL
    for name_off, off, size in offs:
        table += struct.pack("<IIQQQQIIQQ", name_off, 1, 0, 0, off, size, 0, 0, 1, 0)
    table += struct.pack("<IIQQQQIIQQ", shstr_name, 3, 0, 0, shstr_off, len(names), 0, 0, 1, 0)
    shnum = len(offs) + 2
    header = (b"\x7fELF\x02\x01\x01" + bytes(9)
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, shnum, shnum - 1))
    return header + body + table


def test_both_binary_analyzers_share_the_frame() -> None:
    for a in (GoBinaryAnalyzer(), RustBinaryAnalyzer()):
        assert isinstance(a, ElfBinaryAnalyzer)
        assert a.required("app/server", 0o100755) == maybe_binary("app/server", 0o100755) is True
        assert not a.required("app/run.sh", 0o100755) and not a.required("app/server", 0o100644)


@pytest.mark.parametrize("analyzer", [GoBinaryAnalyzer(), RustBinaryAnalyzer()], ids=lambda a: a.type)
def test_not_elf_and_plain_elf_give_nothing(analyzer: ElfBinaryAnalyzer) -> None:
    assert run(analyzer, "app/server", b"#!/bin/sh\necho hi\n" + bytes(64), 0o100755) == AnalysisResult()
    r = run(analyzer, "app/server", elf64({".text": b"\x90" * 16}), 0o100755)
    assert r.packages == [] and r.warnings == []


def test_corrupt_files_give_one_warning_and_no_packages() -> None:
    truncated = elf64({".text": b"\x90" * 16})[:-40]  # the section table runs past the end of the file
    go = run(GoBinaryAnalyzer(), "app/server", truncated, 0o100755)
    assert go.packages == [] and len(go.warnings) == 1
    assert go.warnings[0].startswith("app/server: unreadable Go build info: read of ")
    rust = run(RustBinaryAnalyzer(), "app/server", truncated, 0o100755)
    assert rust.packages == [] and len(rust.warnings) == 1
    assert rust.warnings[0].startswith("app/server: unreadable cargo-auditable data: read of ")
    # each analyzer's own format errors go through the same warning
    go = run(GoBinaryAnalyzer(), "app/server", elf64({".go.buildinfo": MAGIC + b"\x08\x02" + bytes(8)}), 0o100755)
    assert go.packages == [] and go.warnings == ["app/server: unreadable Go build info: no build info header"]
    rust = run(RustBinaryAnalyzer(), "app/server", elf64({".dep-v0": b"not zlib at all"}), 0o100755)
    assert rust.packages == [] and len(rust.warnings) == 1
    assert rust.warnings[0].startswith("app/server: unreadable cargo-auditable data: Error -3")


def test_dep_v0_section_gives_crates() -> None:
    doc = {"packages": [{"name": "tool", "version": "0.1.0", "source": "local", "root": True},
                        {"name": "serde", "version": "1.0.150", "source": "crates.io", "kind": "runtime"},
                        {"name": "broken"}]}
    r = run(RustBinaryAnalyzer(), "usr/local/bin/tool", elf64({".dep-v0": zlib.compress(json.dumps(doc).encode())}),
            0o100755)
    assert [(p.name, p.version, p.purl, p.locations) for p in r.packages] == [
        ("tool", "0.1.0", "pkg:cargo/tool@0.1.0", ("usr/local/bin/tool",)),
        ("serde", "1.0.150", "pkg:cargo/serde@1.0.150", ("usr/local/bin/tool",))]
    assert r.warnings == ["usr/local/bin/tool: .dep-v0 entry without name/version"]


def test_the_walker_parses_a_binary_once_for_both_analyzers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Go and Rust both read a binary's ELF headers: the walker's per-file ``shared`` dict makes it one parse,
    and each still finds its own packages (a Rust binary here) and its own warnings (a corrupt one)."""
    import io

    from containerguard.analyzer import _elf
    from containerguard.scanner.walker import run_analyzers

    parses = []
    real = _elf.open_elf
    monkeypatch.setattr(_elf, "open_elf", lambda s: parses.append(1) or real(s))
    doc = {"packages": [{"name": "serde", "version": "1.0.0", "source": "crates.io"}]}
    data = elf64({".dep-v0": zlib.compress(json.dumps(doc).encode())})
    warnings: list[str] = []
    r = run_analyzers([GoBinaryAnalyzer(), RustBinaryAnalyzer()], "usr/bin/tool", 0o100755, len(data),
                      io.BytesIO(data), warnings.append)
    assert r is not None and [(p.name, p.version) for p in r.packages] == [("serde", "1.0.0")]
    assert len(parses) == 1 and warnings == []
    bad = data[:-40]
    r = run_analyzers([GoBinaryAnalyzer(), RustBinaryAnalyzer()], "usr/bin/bad", 0o100755, len(bad),
                      io.BytesIO(bad), warnings.append)
    assert r is not None and len(r.warnings) == 2  # each analyzer names what it could not read
