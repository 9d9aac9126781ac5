"""RPM packages from the SQLite rpmdb (``rpmdb.sqlite``; RHEL 9, Fedora 33+, openSUSE, Amazon Linux 2023).

The ``Packages`` table holds one rpm header blob per package; the header format is simple and parsed here
(stdlib only): ``il`` and ``dl`` (big-endian int32: index entry count, data length), ``il`` index entries
of 16 bytes (tag, type, offset, count) then ``dl`` bytes of data. The SQLite file is read
from a private temporary copy (streamed, so memory stays flat whatever its size), opened read-only. A WAL
file left beside it is not read: rpm checkpoints into the main file when it closes the database.

BerkeleyDB ``Packages`` and NDB ``Packages.db`` are not parsed: no maintained Python library reads them
without the native Berkeley DB. Such a file gives a counted warning so the user knows packages are missing.

``Package.version`` is ``VERSION-RELEASE`` (as ``rpm -q`` prints it, and as the purl's version), with
``release`` and ``epoch`` also kept apart.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from typing import ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH = 1000, 1001, 1002, 1003
TAG_SUMMARY, TAG_VENDOR, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM = 1004, 1011, 1014, 1022, 1044
TYPE_INT32, TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 4, 6, 8, 9

_SQLITE_PATHS = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
_UNSUPPORTED = ("var/lib/rpm/Packages", "var/lib/rpm/Packages.db", "usr/lib/sysimage/rpm/Packages.db")
_MAX = 512 * 1024 * 1024
_MAX_ENTRIES = 100_000


class HeaderError(ValueError):
    pass


def parse_header(blob: bytes) -> dict[int, str | int | list[str]]:
    """The tags we use from one rpm header blob (as stored in the rpmdb, without the 8-byte magic)."""
    if len(blob) < 8:
        raise HeaderError("header shorter than 8 bytes")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il > _MAX_ENTRIES or 8 + il * 16 + dl > len(blob):
        raise HeaderError(f"header sizes out of range (il={il} dl={dl} len={len(blob)})")
    data_start = 8 + il * 16
    data = blob[data_start:data_start + dl]
    wanted = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_SUMMARY, TAG_VENDOR, TAG_LICENSE, TAG_ARCH,
              TAG_SOURCERPM}
    out: dict[int, str | int | list[str]] = {}
    for i in range(il):
        tag, typ, off, count = struct.unpack_from(">IIII", blob, 8 + i * 16)
        if tag not in wanted:
            continue
        if off >= dl:
            raise HeaderError(f"tag {tag} offset {off} beyond data ({dl})")
        if typ == TYPE_INT32:
            if off + 4 > dl:
                raise HeaderError(f"tag {tag} int32 beyond data")
            out[tag] = struct.unpack_from(">i", data, off)[0]
        elif typ in (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING):
            strings: list[str] = []
            pos = off
            for _ in range(max(1, count) if typ != TYPE_STRING else 1):
                end = data.find(b"\0", pos)
                if end < 0:
                    raise HeaderError(f"tag {tag} string not terminated")
                strings.append(data[pos:end].decode("utf-8", errors="replace"))
                pos = end + 1
            out[tag] = strings[0] if typ != TYPE_STRING_ARRAY else strings
    return out


def split_source_rpm(srpm: str) -> tuple[str, str]:
    """``bash-5.1.8-6.el9.src.rpm`` -> (``bash``, ``5.1.8-6.el9``)."""
    base = srpm
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    parts = base.rsplit("-", 2)
    if len(parts) != 3:
        return "", ""
    return parts[0], f"{parts[1]}-{parts[2]}"


def rpm_purl(name: str, version: str, arch: str, epoch: int | None, vendor: str = "", distro: str = "") -> str:
    quals = {"arch": arch, "epoch": str(epoch) if epoch else "", "distro": distro}
    return make_purl("rpm", name, version, vendor, quals)


def _s(v: str | int | list[str] | None) -> str:
    if isinstance(v, list):
        return v[0] if v else ""
    return "" if v is None else str(v)


class RpmAnalyzer(Analyzer):
    type: ClassVar[str] = "rpm"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path in _SQLITE_PATHS or path in _UNSUPPORTED

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        result = AnalysisResult()
        if inp.path in _UNSUPPORTED:
            result.warnings.append(
                f"{inp.path}: BerkeleyDB/NDB rpm databases are not read (only rpmdb.sqlite); rpm packages not listed")
            return result
        if inp.stream.read(16) != b"SQLite format 3\0":
            raise AnalyzerError(f"{inp.path}: not an SQLite database")
        inp.stream.seek(0)
        with tempfile.NamedTemporaryFile(prefix="cg-rpmdb-", suffix=".sqlite") as tmp:
            copied = 0
            while chunk := inp.stream.read(1 << 20):
                copied += len(chunk)
                if copied > _MAX:
                    raise AnalyzerError(f"{inp.path}: file larger than {_MAX} bytes")
                tmp.write(chunk)
            # rpm keeps the database in WAL mode (header bytes 18/19 = 2); rpm checkpoints on close, so the
            # copy is read as a rollback-journal database (no -wal/-shm needed) with the same rows
            tmp.seek(18)
            if tmp.read(2) == b"\x02\x02":
                tmp.seek(18)
                tmp.write(b"\x01\x01")
            tmp.flush()
            try:
                con = sqlite3.connect(f"file:{tmp.name}?mode=ro&immutable=1", uri=True)
            except sqlite3.Error as exc:
                raise AnalyzerError(f"{inp.path}: unreadable rpmdb.sqlite: {exc}") from exc
            try:
                for hnum, blob in con.execute("SELECT hnum, blob FROM Packages"):
                    self._package(inp.path, hnum, blob, result)
            except sqlite3.Error as exc:
                raise AnalyzerError(f"{inp.path}: unreadable rpmdb.sqlite: {exc}") from exc
            finally:
                con.close()
        return result

    def _package(self, path: str, hnum: int, blob: bytes, result: AnalysisResult) -> None:
        try:
            hdr = parse_header(bytes(blob))
        except HeaderError as exc:
            result.warnings.append(f"{path}: package header {hnum}: {exc}")
            return
        name, ver, rel = _s(hdr.get(TAG_NAME)), _s(hdr.get(TAG_VERSION)), _s(hdr.get(TAG_RELEASE))
        if not name or not ver:
            result.warnings.append(f"{path}: package header {hnum} has no name/version")
            return
        if name == "gpg-pubkey":  # imported signing keys, not software
            return
        epoch_v = hdr.get(TAG_EPOCH)
        epoch = epoch_v if isinstance(epoch_v, int) else None
        arch = _s(hdr.get(TAG_ARCH))
        srpm = _s(hdr.get(TAG_SOURCERPM))
        src_name, src_ver = split_source_rpm(srpm) if srpm else ("", "")
        version = f"{ver}-{rel}" if rel else ver
        meta = {k: _s(hdr.get(t)) for k, t in (("vendor", TAG_VENDOR), ("source_rpm", TAG_SOURCERPM))
                if hdr.get(t)}
        lic = _s(hdr.get(TAG_LICENSE))
        result.packages.append(Package(
            name=name, version=version, type="rpm", purl=rpm_purl(name, version, arch, epoch),
            locations=(path,), arch=arch, source_name=src_name, source_version=src_ver,
            epoch=epoch, release=rel, licenses=(lic,) if lic else (), analyzer=self.type, metadata=meta,
        ))
