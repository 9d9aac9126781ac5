"""OSV per-ecosystem exports (``<Ecosystem>/all.zip``, one ``<id>.json`` per record, OSV schema 1.6).

Each record is checked against the part of the OSV schema the detector relies on (types of ``id``,
``modified``, ``aliases``, ``affected[].package``, ``ranges[].type/events``, ``versions``); a record that
fails is skipped and counted. Per ``affected`` entry: an ecosystem the versioning registry does not know
skips that entry (counted); a range with an event version the ecosystem's comparator cannot parse is left out
(counted), the entry's other ranges and its ``versions`` list kept.
GIT ranges are ignored (we match packages, not commits). Distribution ecosystems drop the ``versions``
enumeration (osv.dev derives it from the ranges; the ranges are authoritative and far smaller).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from containerguard.vulndb import normalize
from containerguard.vulndb.severity import best_vector
from containerguard.vulndb.sources.base import Sink, SourceCorrupt, SourceSpec, SourceStats, VersionCheck

_EVENT_KINDS = {"introduced": "i", "fixed": "f", "last_affected": "l", "limit": "x"}
_RANGE_TYPES = {"ECOSYSTEM": "E", "SEMVER": "S"}


class _Invalid(Exception):
    pass


def _strs(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Invalid(f"{what} is not a list of strings")
    return v


def _first_sentence(text: str, limit: int = 160) -> str:
    """A title from free text: its first sentence (or line), at most ``limit`` characters."""
    flat = " ".join(text.split())
    cut = flat.find(". ")
    first = flat[: cut + 1] if 0 < cut < limit else flat
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_MAX_MEMBER = 64 * 1024 * 1024


def _member(fh: BinaryIO, info: zipfile.ZipInfo) -> bytes | None:
    """One member's bytes read straight from its local header (stored or deflated, CRC checked): the OSV
    exports hold tens of thousands of small members and zipfile's per-member machinery dominates otherwise.
    Returns None for what this fast path does not handle (encryption, other methods, zip64 oddities)."""
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    if info.file_size > _MAX_MEMBER or info.compress_size > _MAX_MEMBER:
        raise ValueError("member too large")
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    fields = _LOCAL_HEADER.unpack(header)
    fh.seek(fields[10] + fields[11], 1)  # file name and extra field lengths
    data = fh.read(info.compress_size)
    if len(data) != info.compress_size:
        raise EOFError("truncated member")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        data = d.decompress(data, info.file_size + 1)
        if len(data) != info.file_size or not d.eof:
            raise zlib.error("size mismatch")
    if zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile("CRC mismatch")
    return data


def parse(spec: SourceSpec, path: Path, sink: Sink, stats: SourceStats, versions: VersionCheck) -> None:
    try:
        zf = zipfile.ZipFile(path)
        members = [i for i in zf.infolist() if i.filename.endswith(".json") and not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SourceCorrupt(f"{spec.name}: not a readable zip ({exc})") from exc
    with zf, open(path, "rb") as fh:
        for info in members:
            try:
                raw = _member(fh, info)
                if raw is None:  # anything unusual: the zipfile module's own reader
                    raw = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError):
                stats.skip("corrupt zip member")
                continue
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                stats.skip("invalid JSON")
                continue
            try:
                _record(spec, rec, sink, stats, versions)
            except _Invalid:
                stats.skip("OSV schema")


def _record(spec: SourceSpec, rec: Any, sink: Sink, stats: SourceStats, versions: VersionCheck) -> None:
    """One OSV record: validated whole (every affected entry) before anything of it is written."""
    if not isinstance(rec, dict):
        raise _Invalid("record is not an object")
    rid = rec.get("id")
    modified = rec.get("modified")
    if not isinstance(rid, str) or not rid or not isinstance(modified, str):
        raise _Invalid("id/modified")
    aliases = _strs(rec.get("aliases"), "aliases")
    related = _strs(rec.get("related"), "related")
    affected = rec.get("affected") or []
    if not isinstance(affected, list):
        raise _Invalid("affected")
    sev = rec.get("severity") or []
    if not isinstance(sev, list) or not all(isinstance(s, dict) for s in sev):
        raise _Invalid("severity")
    # validate every affected entry's shape before writing anything for the record
    rows: list[tuple[Any, ...]] = []
    entry_skips: list[str] = []
    for a in affected:
        row = _affected_row(spec, rid, a, versions, stats)
        if isinstance(row, str):
            entry_skips.append(row)
        elif row is not None:
            rows.append(row)
    for reason in entry_skips:
        stats.skip(reason)
    withdrawn = rec.get("withdrawn") if isinstance(rec.get("withdrawn"), str) else ""
    ghsa, cwes = _database_specific(rec.get("database_specific"))
    vector, score = best_vector([(str(s.get("type", "")), str(s.get("score", ""))) for s in sev])
    summary = rec.get("summary")
    if not isinstance(summary, str) or not summary:
        details = rec.get("details")
        summary = _first_sentence(details) if isinstance(details, str) else ""
    refs = [r["url"] for r in (rec.get("references") or []) if isinstance(r, dict) and isinstance(r.get("url"), str)]
    sink.advisory((spec.name, rid, orjson.dumps(aliases).decode(), orjson.dumps(related).decode(), summary,
                   vector, score, ghsa, str(rec.get("published") or ""), modified, withdrawn,
                   orjson.dumps(refs[:8]).decode(), orjson.dumps(cwes).decode()))
    for al in aliases:
        sink.alias((spec.name, al, rid))
    stats.records += 1
    if withdrawn:
        stats.withdrawn += 1
        return  # a withdrawn record stays visible by id but matches nothing
    for row in rows:
        sink.affected(row)


def _affected_row(spec: SourceSpec, rid: str, a: Any, versions: VersionCheck,
                  stats: SourceStats) -> tuple[Any, ...] | str | None:
    """The ``affected`` table row of one entry; a skip reason (str) for an entry that cannot match; None
    for one with nothing to match (no package, or only GIT ranges). Raises _Invalid for a bad shape."""
    if not isinstance(a, dict):
        raise _Invalid("affected entry")
    pkg = a.get("package")
    if not pkg:  # GIT-only entry (no or empty package): nothing to match by package
        return None
    if not isinstance(pkg, dict) or not isinstance(pkg.get("ecosystem"), str) or not isinstance(pkg.get("name"), str):
        raise _Invalid("affected.package")
    ranges = a.get("ranges") or []
    if not isinstance(ranges, list):
        raise _Invalid("ranges")
    vers = a.get("versions") or []
    if not isinstance(vers, list):  # members are only compared for equality: not checked one by one
        raise _Invalid("versions")
    eco = normalize.ecosystem(pkg["ecosystem"])
    compact = _compact_ranges(ranges)
    if not compact and not vers:
        return None
    scheme = versions.scheme(eco)
    if scheme is None:
        return "unknown ecosystem"
    for _t, evs in compact:  # bounds written loosely (GitHub's "1.90" in a SEMVER range) in their scheme's form
        for ev in evs:
            ev[1] = scheme.bound(ev[1])
    good = [r for r in compact if all((kind == "i" and v == "0") or versions.valid(eco, v) for kind, v in r[1])]
    if len(good) < len(compact):
        # a range with a bound the comparator cannot read is left out (counted); the entry's other ranges and
        # its `versions` list still match (buildbot's "fixed: 0.7.11p3" lost the 124 versions listed beside it)
        if not good and not vers:
            return "unparseable version"
        stats.skip("unparseable version", len(compact) - len(good))
        compact = good
    es = a.get("ecosystem_specific")
    vendor = ""
    if isinstance(es, dict):
        u = es.get("urgency") or es.get("severity")
        if isinstance(u, str):
            vendor = u
    keep_versions = vers and not normalize.is_distro(eco)
    return (spec.name, eco, normalize.package_name(eco, pkg["name"]), rid,
            orjson.dumps(compact).decode(), orjson.dumps(vers).decode() if keep_versions else None, vendor)


def _compact_ranges(ranges: list[Any]) -> list[list[Any]]:
    """``[[type letter, [[event letter, version], ...]], ...]`` of the version ranges (GIT ranges left out,
    their events still validated)."""
    compact: list[list[Any]] = []
    for r in ranges:
        if not isinstance(r, dict) or not isinstance(r.get("type"), str) or not isinstance(r.get("events"), list):
            raise _Invalid("range")
        t = _RANGE_TYPES.get(r["type"])
        evs: list[list[str]] = []
        for ev in r["events"]:
            if not isinstance(ev, dict) or len(ev) != 1:
                raise _Invalid("event")
            ((k, v),) = ev.items()
            kind = _EVENT_KINDS.get(k)
            if kind is None or not isinstance(v, str):
                raise _Invalid("event kind")
            evs.append([kind, v])
        if t is not None:  # GIT ranges: commits, not versions
            compact.append([t, evs])
    return compact


def _database_specific(ds: Any) -> tuple[str, list[str]]:
    """(GitHub severity, CWE ids) from ``database_specific``."""
    ghsa = ""
    cwes: list[str] = []
    if isinstance(ds, dict):
        if isinstance(ds.get("severity"), str):
            ghsa = ds["severity"]
        if isinstance(ds.get("cwe_ids"), list):
            cwes = [c for c in ds["cwe_ids"] if isinstance(c, str)]
    return ghsa, cwes
