"""Unit tests of the pure-Python readers of rpm's older databases (analyzer/_bdb.py, analyzer/_ndb.py)
through RpmAnalyzer.analyze: files laid out per rpm's lib/backend/ndb/rpmpkg.c and Berkeley DB's hash page
format, built here byte by byte, then damaged. The rpm oracle on real BerkeleyDB files is in
tests/integration/test_oracles_rpm_legacy.py (no tool here writes NDB: Debian's rpm lacks that backend)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from containerguard.analyzer.base import AnalysisResult, AnalyzerInput
from containerguard.analyzer.rpm import RpmAnalyzer


def header_blob(name: str, version: str, release: str, arch: str, epoch: int | None = None,
                pad: int = 0) -> bytes:
    """An rpm header blob (as rpmdb stores it) with NAME, VERSION, RELEASE, ARCH, SOURCERPM [, EPOCH]."""
    entries: list[tuple[int, int, bytes]] = [
        (1000, 6, name.encode() + b"\0"), (1001, 6, version.encode() + b"\0"),
        (1002, 6, release.encode() + b"\0"), (1022, 6, arch.encode() + b"\0"),
        (1044, 6, f"{name}-{version}-{release}.src.rpm".encode() + b"\0"),
        (1004, 9, b"x" * pad + b"\0")]
    if epoch is not None:
        entries.append((1003, 4, struct.pack(">i", epoch)))
    index, data = b"", b""
    for tag, typ, value in entries:
        if typ == 4:
            data += b"\0" * (-len(data) % 4)
        index += struct.pack(">IIII", tag, typ, len(data), 1)
        data += value
    return struct.pack(">II", len(entries), len(data)) + index + data


def ndb_file(blobs: dict[int, bytes], free_slots: int = 1) -> bytes:
    slots = bytearray(4096)
    struct.pack_into("<IIII", slots, 0, int.from_bytes(b"RpmP", "little"), 0, 1, 1)
    body = bytearray()
    slotno = 2 + free_slots  # empty slots (blkoff 0) before the used ones
    for off in range(32, 4096, 16):
        struct.pack_into("<I", slots, off, int.from_bytes(b"Slot", "little"))
    for pkgidx, blob in blobs.items():
        blkoff = (4096 + len(body)) // 16
        raw = bytearray(struct.pack("<IIII", int.from_bytes(b"BlbS", "little"), pkgidx, 0, len(blob)) + blob)
        raw += b"\0" * (-(len(raw) + 12) % 16)
        raw += struct.pack("<III", zlib.adler32(bytes(raw), 1), len(blob), int.from_bytes(b"BlbE", "little"))
        struct.pack_into("<IIII", slots, slotno * 16, int.from_bytes(b"Slot", "little"), pkgidx, blkoff,
                         len(raw) // 16)
        slotno += 1
        body += raw
    return bytes(slots + body)


def bdb_file(pairs: list[tuple[bytes, bytes]], pagesize: int = 512) -> bytes:
    """A Berkeley DB hash file: metadata page, one hash page; values too big for it go on overflow pages."""
    pages: list[bytearray] = [bytearray(pagesize), bytearray(pagesize)]
    hash_page = pages[1]
    offsets: list[int] = []
    top = pagesize
    for key, value in pairs:
        for item in (key, value):
            if len(item) + 1 <= pagesize // 4:
                enc = b"\x01" + item
            else:
                first = len(pages)
                chunks = [item[i:i + pagesize - 26] for i in range(0, len(item), pagesize - 26)]
                for n, chunk in enumerate(chunks):
                    ov = bytearray(pagesize)
                    nxt = first + n + 1 if n + 1 < len(chunks) else 0
                    struct.pack_into("<IIIHHBB", ov, 8, first + n, 0, nxt, 1, len(chunk), 0, 7)
                    ov[26:26 + len(chunk)] = chunk
                    pages.append(ov)
                enc = struct.pack("<B3xII", 3, first, len(item))
            top -= len(enc)
            hash_page[top:top + len(enc)] = enc
            offsets.append(top)
    struct.pack_into("<IIIHHBB", hash_page, 8, 1, 0, 0, len(offsets), top, 0, 13)
    struct.pack_into(f"<{len(offsets)}H", hash_page, 26, *offsets)
    meta = pages[0]
    struct.pack_into("<IIIBB", meta, 12, 0x061561, 9, pagesize, 0, 8)
    struct.pack_into("<I", meta, 32, len(pages) - 1)
    return b"".join(bytes(p) for p in pages)


def analyze(data: bytes, path: str) -> AnalysisResult:
    return RpmAnalyzer().analyze(AnalyzerInput(path=path, size=len(data), mode=0o100644, stream=io.BytesIO(data)))


NDB = "usr/lib/sysimage/rpm/Packages.db"
BDB = "var/lib/rpm/Packages"
BLOBS = {1: header_blob("bash", "5.1", "2.1", "x86_64"), 7: header_blob("zypper", "1.14", "3", "x86_64", epoch=1)}


def test_ndb_lists_every_package() -> None:
    result = analyze(ndb_file(BLOBS), NDB)
    assert result.warnings == []
    assert {(p.name, p.version, p.epoch, p.arch, p.locations) for p in result.packages} == {
        ("bash", "5.1-2.1", None, "x86_64", (NDB,)), ("zypper", "1.14-3", 1, "x86_64", (NDB,))}


def test_ndb_bad_checksum_truncation_and_garbage() -> None:
    data = bytearray(ndb_file(BLOBS))
    data[4096 + 20] ^= 0xFF  # inside bash's header blob: the Adler-32 no longer matches
    result = analyze(bytes(data), NDB)
    assert [p.name for p in result.packages] == ["zypper"]
    assert len(result.warnings) == 1 and "checksum" in result.warnings[0]
    whole = ndb_file(BLOBS)
    result = analyze(whole[:-30], NDB)
    assert [p.name for p in result.packages] == ["bash"] and "truncated" in result.warnings[0]
    for junk in (b"", b"RpmP", b"\0" * 5000, whole[:4000]):
        result = analyze(junk, NDB)
        assert result.packages == [] and len(result.warnings) == 1 and "NDB" in result.warnings[0]


def test_bdb_inline_and_overflow_values() -> None:
    big = header_blob("kernel", "3.10.0", "1160.el7", "x86_64", pad=3000)  # spans several overflow pages
    pairs = [(struct.pack("<I", 0), struct.pack("<I", 3)), (struct.pack("<I", 1), big),
             (struct.pack("<I", 2), header_blob("a", "1", "1", "noarch"))]
    result = analyze(bdb_file(pairs, 4096), BDB)
    assert result.warnings == []
    assert {(p.name, p.version) for p in result.packages} == {("kernel", "3.10.0-1160.el7"), ("a", "1-1")}
    result = analyze(bdb_file(pairs, 512), BDB)
    assert result.warnings == [] and len(result.packages) == 2


def test_bdb_wrong_magic_and_bad_page_size() -> None:
    good = bytearray(bdb_file([(struct.pack("<I", 1), BLOBS[1])]))
    for data in (b"", b"\0" * 600, bytes(good[:12]) + b"\x61\x15\x07\x00" + bytes(good[16:])):
        result = analyze(data, BDB)
        assert result.packages == [] and len(result.warnings) == 1 and "BerkeleyDB" in result.warnings[0]
    bad = bytearray(good)
    struct.pack_into("<I", bad, 20, 1000)
    assert "page size" in analyze(bytes(bad), BDB).warnings[0]


def test_mutated_databases_never_raise() -> None:
    """Random byte damage to both formats: packages or counted warnings, never an exception or a hang."""
    rng = random.Random(2026)
    seeds = [(bdb_file([(struct.pack("<I", 1), header_blob("k", "1", "1", "x", pad=1500)),
                        (struct.pack("<I", 2), BLOBS[7])]), BDB), (ndb_file(BLOBS), NDB)]
    for _ in range(1500):
        seed, path = rng.choice(seeds)
        data = bytearray(seed)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)):]
        result = analyze(bytes(data), path)
        assert len(result.warnings) <= 51
