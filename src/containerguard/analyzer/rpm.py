"""RPM packages from the SQLite rpmdb (``rpmdb.sqlite``; RHEL 9, Fedora 33+, openSUSE, Amazon Linux 2023).

The ``Packages`` table holds one rpm header blob per package; the header format is simple and parsed here
(stdlib only): ``il`` and ``dl`` (big-endian int32: index entry count, data length), ``il`` index entries
of 16 bytes (tag, type, offset, count) then ``dl`` bytes of data. The SQLite file is read
from a private temporary copy (streamed, so memory stays flat whatever its size), opened read-only. A WAL
file left beside it is not read: rpm checkpoints into the main file when it closes the database.

The older formats hold the same header blobs: the BerkeleyDB hash ``Packages`` (CentOS 7/8, RHEL/UBI 8,
Amazon Linux 2; read by ``_bdb``) and rpm's NDB ``Packages.db`` (SUSE; read by ``_ndb``). No maintained
Python library reads them without native libdb, so both readers are pure Python over the documented
on-disk layouts, reading page by page from the stream. A damaged page, item or blob is a counted warning
(the rest of the database is still listed); a file that is not such a database at all is one warning.

``Package.version`` is ``VERSION-RELEASE`` (as ``rpm -q`` prints it, and as the purl's version), with
``release`` and ``epoch`` also kept apart. The file list (BASENAMES, DIRNAMES, DIRINDEXES) gives the language-package
manifests rpm installed (``python3-requests``' ``requests-2.25.1.dist-info/METADATA``), which the applier does not
report again as language packages.
"""

from __future__ import annotations

import struct
import tempfile
from typing import ClassVar

from containerguard.analyzer._bdb import BdbError, BdbHashReader
from containerguard.analyzer._ndb import NdbError, ndb_blobs
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput, language_manifest
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH = 1000, 1001, 1002, 1003
TAG_SUMMARY, TAG_VENDOR, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM = 1004, 1011, 1014, 1022, 1044
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TYPE_INT32, TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 4, 6, 8, 9

_SQLITE_PATHS = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
_BDB_PATHS = ("var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages")
_NDB_PATHS = ("var/lib/rpm/Packages.db", "usr/lib/sysimage/rpm/Packages.db")
_MAX_WARNINGS = 50  # per database file; the rest are counted in one last warning
_MAX = 512 * 1024 * 1024
_MAX_ENTRIES = 100_000


class HeaderError(ValueError):
    pass


HeaderValue = str | int | list[str] | list[int]


def parse_header(blob: bytes) -> dict[int, HeaderValue]:
    """The tags we use from one rpm header blob (as stored in the rpmdb, without the 8-byte magic)."""
    if len(blob) < 8:
        raise HeaderError("header shorter than 8 bytes")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il > _MAX_ENTRIES or 8 + il * 16 + dl > len(blob):
        raise HeaderError(f"header sizes out of range (il={il} dl={dl} len={len(blob)})")
    data_start = 8 + il * 16
    data = blob[data_start:data_start + dl]
    wanted = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_SUMMARY, TAG_VENDOR, TAG_LICENSE, TAG_ARCH,
              TAG_SOURCERPM, TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES}
    out: dict[int, HeaderValue] = {}
    for i in range(il):
        tag, typ, off, count = struct.unpack_from(">IIII", blob, 8 + i * 16)
        if tag not in wanted:
            continue
        if off >= dl:
            raise HeaderError(f"tag {tag} offset {off} beyond data ({dl})")
        if typ == TYPE_INT32:
            n = max(1, count) if tag == TAG_DIRINDEXES else 1
            if off + 4 * n > dl:
                raise HeaderError(f"tag {tag} int32 beyond data")
            ints = list(struct.unpack_from(f">{n}i", data, off))
            out[tag] = ints if tag == TAG_DIRINDEXES else ints[0]
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


def _s(v: HeaderValue | None) -> str:
    if isinstance(v, list):
        return str(v[0]) if v else ""
    return "" if v is None else str(v)


def _manifests(hdr: dict[int, HeaderValue]) -> list[str]:
    """The language-package manifests among a header's files (BASENAMES, each in DIRNAMES[DIRINDEXES[i]])."""
    base, dirs, idx = hdr.get(TAG_BASENAMES), hdr.get(TAG_DIRNAMES), hdr.get(TAG_DIRINDEXES)
    if not (isinstance(base, list) and isinstance(dirs, list) and isinstance(idx, list)):
        return []
    return [f"{dirs[i]}{b}".lstrip("/") for b, i in zip(base, idx, strict=False)
            if isinstance(b, str) and language_manifest(b) and isinstance(i, int) and 0 <= i < len(dirs)]


class RpmAnalyzer(Analyzer):
    type: ClassVar[str] = "rpm"
    version: ClassVar[int] = 4

    def required(self, path: str, mode: int) -> bool:
        return path in _SQLITE_PATHS or path in _BDB_PATHS or path in _NDB_PATHS

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        result = AnalysisResult()
        if inp.path in _BDB_PATHS:
            self._bdb(inp, result)
            return result
        if inp.path in _NDB_PATHS:
            self._ndb(inp, result)
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
            import sqlite3  # on first use: a warm scan runs no analyzer

            try:
                con = sqlite3.connect(f"file:{tmp.name}?mode=ro&immutable=1", uri=True)
            except sqlite3.Error as exc:
                raise AnalyzerError(f"{inp.path}: unreadable rpmdb.sqlite: {exc}") from exc
            sub = AnalysisResult()  # per-row warnings capped as the other formats' are
            try:
                for hnum, blob in con.execute("SELECT hnum, blob FROM Packages"):
                    self._package(inp.path, hnum, blob, sub)
            except sqlite3.Error as exc:
                raise AnalyzerError(f"{inp.path}: unreadable rpmdb.sqlite: {exc}") from exc
            finally:
                con.close()
        self._problems(inp.path, "rpmdb.sqlite", [], sub, result)
        return result

    def _bdb(self, inp: AnalyzerInput, result: AnalysisResult) -> None:
        size = min(inp.size, _MAX)
        problems: list[str] = []
        sub = AnalysisResult()  # packages and per-header warnings, the latter capped with the problems
        try:
            reader = BdbHashReader(inp.stream, size)
            for item in reader.items():
                if isinstance(item, str):
                    problems.append(item)
                    continue
                key, value = item
                hnum = reader.key_int(key)
                if hnum == 0:  # rpm's record of the next free package number, not a package
                    continue
                self._package(inp.path, -1 if hnum is None else hnum, value, sub)
        except BdbError as exc:
            problems.append(str(exc))
        if inp.size > _MAX:
            problems.append(f"file larger than {_MAX} bytes; only its start was read")
        self._problems(inp.path, "BerkeleyDB rpm database", problems, sub, result)

    def _ndb(self, inp: AnalyzerInput, result: AnalysisResult) -> None:
        problems: list[str] = []
        sub = AnalysisResult()
        try:
            for item in ndb_blobs(inp.stream, inp.size):
                if isinstance(item, str):
                    problems.append(item)
                else:
                    self._package(inp.path, item[0], item[1], sub)
        except NdbError as exc:
            problems.append(str(exc))
        self._problems(inp.path, "NDB rpm database", problems, sub, result)

    @staticmethod
    def _problems(path: str, what: str, problems: list[str], sub: AnalysisResult, result: AnalysisResult) -> None:
        result.packages.extend(sub.packages)
        result.system_files.extend(sub.system_files)  # the files the packages own (dropped once: BDB, NDB)
        warnings = sub.warnings + [f"{path}: {what}: {p}; packages in it may be missing" for p in problems]
        result.warnings.extend(warnings[:_MAX_WARNINGS])
        if len(warnings) > _MAX_WARNINGS:
            result.warnings.append(f"{path}: {what}: {len(warnings) - _MAX_WARNINGS} more problems")

    def _package(self, path: str, hnum: int, blob: object, result: AnalysisResult) -> None:
        if not isinstance(blob, bytes | bytearray | memoryview):  # a row of another type (sqlite is untyped)
            result.warnings.append(f"{path}: package header {str(hnum)[:40]}: not a blob "
                                   f"({type(blob).__name__}); skipped")
            return
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
        result.system_files.extend(_manifests(hdr))
        result.packages.append(Package(
            name=name, version=version, type="rpm", purl=rpm_purl(name, version, arch, epoch),
            locations=(path,), arch=arch, source_name=src_name, source_version=src_ver,
            epoch=epoch, release=rel, licenses=(lic,) if lic else (), analyzer=self.type, metadata=meta,
        ))
