"""The read side of the vulnerability database: batched lookups, one read-only connection per handle.

``VulnDB`` is what the detector holds; it also carries ``cache``, a dict the detector fills with compiled
range sets keyed by (ecosystem, name), so each set is parsed once per handle however many inventories are
matched against it.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import platformdirs

from containerguard.errors import VulnDBError
from containerguard.vulndb.schema import SCHEMA_VERSION

STALE_AFTER_DAYS = 7
_CHUNK = 500


def default_db_path() -> Path:
    """``$CONTAINERGUARD_DB`` or ``<user cache dir>/containerguard/vulndb.sqlite``."""
    env = os.environ.get("CONTAINERGUARD_DB")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("containerguard")) / "vulndb.sqlite"


@dataclass(frozen=True, slots=True)
class AffectedRow:
    source: str
    ecosystem: str
    name: str
    advisory: str
    ranges: list[list[Any]]  # [[type, [[kind, version], ...]], ...]
    versions_json: str  # the `versions` list as stored (compact JSON), "" when none
    vendor_severity: str

    @property
    def versions(self) -> list[str]:
        return list(orjson.loads(self.versions_json)) if self.versions_json else []

    def lists_version(self, version: str) -> bool:
        """Whether ``version`` is an element of the `versions` list, without decoding it: the list is compact
        JSON, so an element is exactly its JSON-encoded string between delimiters."""
        return bool(self.versions_json) and orjson.dumps(version).decode() in self.versions_json


@dataclass(frozen=True, slots=True)
class AdvisoryRecord:
    id: str
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    cvss_vector: str = ""
    cvss_score: float | None = None
    ghsa_severity: str = ""
    published: str = ""
    modified: str = ""
    withdrawn: str = ""
    references: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()

    @property
    def richness(self) -> int:
        return bool(self.summary) + 2 * bool(self.cvss_vector) + bool(self.ghsa_severity) + bool(self.modified)


@dataclass(frozen=True, slots=True)
class KevEntry:
    cve: str
    date_added: str
    ransomware: bool
    name: str = ""
    due_date: str = ""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: str
    url: str
    records: int
    skipped: int
    skipped_detail: dict[str, int]
    fetched_at: str
    status: str
    error: str
    sha256: str


@dataclass(frozen=True, slots=True)
class DBStatus:
    path: Path
    size: int
    built_at: str
    age_days: float
    schema_version: int
    sources: tuple[SourceStatus, ...]
    build_seconds: float = 0.0
    checked_at: str = ""  # last `db update` that found nothing to change

    @property
    def stale(self) -> bool:
        return self.age_days > STALE_AFTER_DAYS

    @property
    def records(self) -> int:
        return sum(s.records for s in self.sources)

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.sources)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


class VulnDB:
    """A read-only handle on the database file. Raises VulnDBError when it is missing or unusable."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if not self.path.is_file():
            raise VulnDBError(f"no vulnerability database at {self.path}: run `containerguard db update`")
        try:
            self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            row = self.con.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise VulnDBError(f"{self.path} is not a ContainerGuard vulnerability database ({exc})") from exc
        if not row or int(row[0]) != SCHEMA_VERSION:
            raise VulnDBError(f"{self.path} has schema {row[0] if row else '?'}, expected {SCHEMA_VERSION}: "
                              "run `containerguard db update`")
        #: detector-owned memo (compiled ranges per (ecosystem, name), per-version results ...)
        self.cache: dict[Any, Any] = {}
        self._adv: dict[str, AdvisoryRecord | None] = {}
        self._kev: dict[str, KevEntry] | None = None
        self._epss: dict[str, tuple[float, float] | None] = {}
        self._ecosystems: frozenset[str] | None = None

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise VulnDBError(f"vulnerability database {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ lookups
    def ecosystems(self) -> frozenset[str]:
        if self._ecosystems is None:
            self._ecosystems = frozenset(r[0] for r in self._q("SELECT DISTINCT ecosystem FROM affected"))
        return self._ecosystems

    def affected(self, ecosystem: str, names: Iterable[str]) -> dict[str, list[AffectedRow]]:
        """Affected rows for many (normalised) names of one ecosystem: one query per 500 names."""
        wanted = sorted(set(names))
        out: dict[str, list[AffectedRow]] = {n: [] for n in wanted}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = self._q(f"SELECT source, ecosystem, name, advisory, ranges, versions, vendor_severity FROM affected "  # noqa: S608
                           f"WHERE ecosystem = ? AND name IN ({marks})", [ecosystem, *chunk])
            for s, e, n, a, r, v, vs in rows:
                out[n].append(AffectedRow(s, e, n, a, orjson.loads(r), v or "", vs))
        return out

    def advisories(self, ids: Iterable[str]) -> dict[str, AdvisoryRecord]:
        """Advisory records by id; when several sources carry an id the richest copy wins."""
        want = [i for i in set(ids) if i not in self._adv]
        for chunk in _chunks(sorted(want)):
            marks = ",".join("?" * len(chunk))
            found: dict[str, AdvisoryRecord] = {}
            for r in self._q("SELECT id, aliases, related, summary, cvss_vector, cvss_score, ghsa_severity, published, "  # noqa: S608
                             f"modified, withdrawn, refs, cwes FROM advisories WHERE id IN ({marks})", chunk):
                rec = AdvisoryRecord(r[0], tuple(orjson.loads(r[1])), tuple(orjson.loads(r[2])), r[3], r[4], r[5], r[6],
                                     r[7], r[8], r[9], tuple(orjson.loads(r[10])), tuple(orjson.loads(r[11])))
                cur = found.get(rec.id)
                if cur is None or rec.richness > cur.richness:
                    found[rec.id] = rec
            for i in chunk:
                self._adv[i] = found.get(i)
        out: dict[str, AdvisoryRecord] = {}
        for i in ids:
            got = self._adv.get(i)
            if got is not None:
                out[i] = got
        return out

    def advisory(self, vid: str) -> AdvisoryRecord | None:
        """One advisory by id or by alias (``db show``-style lookups)."""
        got = self.advisories([vid]).get(vid)
        if got is not None:
            return got
        rows = self._q("SELECT id FROM aliases WHERE alias = ? LIMIT 1", [vid])
        return self.advisories([rows[0][0]]).get(rows[0][0]) if rows else None

    def kev(self, cves: Iterable[str]) -> dict[str, KevEntry]:
        if self._kev is None:  # ~1,400 rows: load once
            self._kev = {r[0]: KevEntry(r[0], r[1], bool(r[2]), r[3], r[4])
                         for r in self._q("SELECT cve, date_added, ransomware, name, due_date FROM kev")}
        return {c: self._kev[c] for c in cves if c in self._kev}

    def epss(self, cves: Iterable[str]) -> dict[str, tuple[float, float]]:
        """(score, percentile) per CVE (the full feed has ~270k rows: looked up in batches, memoised)."""
        want = sorted({c for c in cves if c not in self._epss})
        for chunk in _chunks(want):
            marks = ",".join("?" * len(chunk))
            got = {r[0]: (float(r[1]), float(r[2]))
                   for r in self._q(f"SELECT cve, score, percentile FROM epss WHERE cve IN ({marks})", chunk)}  # noqa: S608
            for c in chunk:
                self._epss[c] = got.get(c)
        out: dict[str, tuple[float, float]] = {}
        for c in cves:
            v = self._epss.get(c)
            if v is not None:
                out[c] = v
        return out

    # ------------------------------------------------------------------ status
    def status(self) -> DBStatus:
        info = dict(self._q("SELECT key, value FROM info"))
        built = info.get("built_at", "")
        age = 0.0
        if built:
            t = dt.datetime.strptime(built, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            age = (dt.datetime.now(dt.UTC) - t).total_seconds() / 86400
        sources = tuple(
            SourceStatus(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5], r[6], r[7], r[8])
            for r in self._q("SELECT source, url, records, skipped, skipped_detail, fetched_at, status, error, sha256 "
                             "FROM meta ORDER BY source"))
        return DBStatus(self.path, self.path.stat().st_size, built, age, int(info.get("schema_version", 0)), sources,
                        float(info.get("build_seconds", 0) or 0), info.get("checked_at", ""))
