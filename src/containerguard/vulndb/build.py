"""``db update``: fetch every source, build one SQLite file next to the old one, swap it in atomically.

Sequence: take an exclusive lock (``<db>.lock``), discover the sources, download them in parallel with
conditional requests, then build ``<db>.tmp-<pid>`` with journaling off (it is thrown away on any failure),
carrying unchanged sources over from the previous database by ``INSERT ... SELECT``, create the indexes
after the bulk insert, and ``os.replace`` it over the old file. A source that cannot be fetched or read
keeps its previous rows and is reported with its error; if nothing changed the old file is kept as is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from containerguard import __version__
from containerguard.errors import VulnDBError
from containerguard.vulndb import fetch as fetchmod
from containerguard.vulndb.schema import DATA_TABLES, INDEXES, SCHEMA_VERSION, TABLES
from containerguard.vulndb.sources import PARSERS, SourceCorrupt, SourceSpec, SourceStats
from containerguard.vulndb.sources.base import VersionCheck
from containerguard.vulndb.store import default_db_path

#: progress hook: (phase, item name, amount done, total or None). Phases: download, build, index.
ProgressHook = Callable[[str, str, int, int | None], None]

_FLUSH = 20000


@dataclass(frozen=True, slots=True)
class SourceResult:
    name: str
    url: str
    status: str  # updated | unchanged | absent | error
    records: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, slots=True)
class UpdateResult:
    path: Path
    changed: bool
    seconds: float
    sources: tuple[SourceResult, ...]

    @property
    def errors(self) -> tuple[SourceResult, ...]:
        return tuple(s for s in self.sources if s.status == "error")


class _Writer:
    """The Sink: buffers rows and flushes them with executemany inside the build transaction."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.buf: dict[str, list[tuple[Any, ...]]] = {t: [] for t in DATA_TABLES}
        self.sql = {
            "advisories": "INSERT INTO advisories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            "affected": "INSERT INTO affected VALUES (?,?,?,?,?,?,?)",
            "aliases": "INSERT INTO aliases VALUES (?,?,?)",
            "kev": "INSERT INTO kev VALUES (?,?,?,?,?,?)",
            "epss": "INSERT INTO epss VALUES (?,?,?,?)",
        }

    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        b = self.buf[table]
        b.append(row)
        if len(b) >= _FLUSH:
            self.flush_table(table)

    def advisory(self, row: tuple[Any, ...]) -> None:
        self._add("advisories", row)

    def affected(self, row: tuple[Any, ...]) -> None:
        self._add("affected", row)

    def alias(self, row: tuple[str, str, str]) -> None:
        self._add("aliases", row)

    def kev(self, row: tuple[Any, ...]) -> None:
        self._add("kev", row)

    def epss(self, row: tuple[Any, ...]) -> None:
        self._add("epss", row)

    def flush_table(self, table: str) -> None:
        if self.buf[table]:
            self.con.executemany(self.sql[table], self.buf[table])
            self.buf[table] = []

    def flush(self) -> None:
        for t in DATA_TABLES:
            self.flush_table(t)

    def discard(self) -> None:
        self.buf = {t: [] for t in DATA_TABLES}


@contextlib.contextmanager
def _lock(db: Path) -> Iterator[None]:
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise VulnDBError(f"another `db update` is running on {db}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _old_meta(db: Path) -> dict[str, dict[str, Any]]:
    """Meta rows of the previous database; empty when it is missing, corrupt or of another schema."""
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            ver = con.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
            if not ver or int(ver[0]) != SCHEMA_VERSION:
                return {}
            cols = [d[0] for d in con.execute("SELECT * FROM meta LIMIT 0").description]
            return {r[0]: dict(zip(cols, r, strict=True)) for r in con.execute("SELECT * FROM meta")}
        finally:
            con.close()
    except sqlite3.Error:
        return {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def update(
    db: Path | str | None = None,
    *,
    mirror: str | None = None,
    sources: dict[str, str] | None = None,
    only: tuple[str, ...] | None = None,
    progress: ProgressHook | None = None,
    timeout: float = 120.0,
    workers: int = 4,
) -> UpdateResult:
    """Fetch the feeds and (re)build the database at ``db`` (default: the user cache dir).

    ``mirror`` is a base URL with the ../shared/vulndata layout; ``sources`` overrides one base per kind
    (``osv``, ``alpine``, ``kev``, ``epss``); ``only`` limits OSV ecosystems (and Alpine/kev/epss by name).
    """
    path = Path(db) if db is not None else default_db_path()
    try:
        return _update(path, mirror, sources or {}, only, progress, timeout, workers)
    except sqlite3.Error as exc:
        raise VulnDBError(f"cannot build {path}: {exc}") from exc
    except OSError as exc:
        raise VulnDBError(f"cannot write the vulnerability database at {path}: {exc.strerror or exc}") from exc


def _update(path: Path, mirror: str | None, sources: dict[str, str], only: tuple[str, ...] | None,
            progress: ProgressHook | None, timeout: float, workers: int) -> UpdateResult:
    t0 = time.monotonic()
    b = fetchmod.bases(mirror, sources)
    with _lock(path):
        # what an update killed mid-way (SIGKILL, power loss) left behind; the lock says no updater runs now
        for stale in path.parent.glob(path.name + ".tmp-*"):
            with contextlib.suppress(OSError):
                stale.unlink()
        for stale in path.parent.glob(f".{path.name}.download-*"):
            shutil.rmtree(stale, ignore_errors=True)
        old = _old_meta(path)
        dl = path.parent / f".{path.name}.download-{os.getpid()}"
        dl.mkdir(parents=True, exist_ok=True)
        try:
            with httpx.Client(follow_redirects=True, timeout=timeout,
                              headers={"User-Agent": f"containerguard/{__version__}"}) as client:
                specs = fetchmod.discover(client, b, only)
                fetched = _download(client, specs, dl, old, progress, workers)
            return _build(path, specs, fetched, old, dl, progress, t0)
        finally:
            shutil.rmtree(dl, ignore_errors=True)


def _download(client: httpx.Client, specs: list[SourceSpec], dl: Path, old: dict[str, dict[str, Any]],
              progress: ProgressHook | None, workers: int) -> dict[str, fetchmod.Fetched]:
    done: dict[str, int] = {}

    def hook(name: str, n: int, total: int | None) -> None:
        done[name] = done.get(name, 0) + n
        if progress:
            progress("download", name, done[name], total)

    def one(spec: SourceSpec) -> tuple[str, fetchmod.Fetched]:
        prev = old.get(spec.name)
        usable = prev is not None and prev["sha256"] and prev["url"] == spec.url
        etag = prev["etag"] if usable and prev else ""
        lm = prev["last_modified"] if usable and prev else ""
        return spec.name, fetchmod.fetch(client, spec, dl / _fname(spec.name), etag, lm, hook)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, specs))


def _fname(name: str) -> str:
    return name.replace("/", "__")


def _plan(specs: list[SourceSpec], fetched: dict[str, fetchmod.Fetched],
          old: dict[str, dict[str, Any]]) -> list[tuple[SourceSpec, str]]:
    """(spec, action) per source: ``parse`` a new or changed file, ``carry`` the previous rows over (an
    unchanged file, or a failed fetch of a source built before), or ``none``."""
    plan: list[tuple[SourceSpec, str]] = []
    for spec in specs:
        f = fetched[spec.name]
        prev = old.get(spec.name)
        if f.status == "ok" and not (prev and prev["sha256"] == f.sha256 and prev["url"] == spec.url):
            plan.append((spec, "parse"))
        elif prev and (f.status in ("ok", "not-modified", "error")):
            plan.append((spec, "carry"))
        else:
            plan.append((spec, "none"))
    return plan


def _unreadable(con: sqlite3.Connection, spec: SourceSpec, prev: dict[str, Any] | None, err: str,
                metas: list[tuple[Any, ...]], results: list[SourceResult]) -> None:
    """A source file that cannot be read as a whole: the previous build's rows stay, when there is one."""
    if prev:
        _carry(con, spec.name)
        metas.append(_meta_row_prev(prev, "error", err))
    else:
        metas.append((spec.name, spec.url, "", "", "", 0, 1, orjson.dumps({"unreadable file": 1}).decode(),
                      _now(), "error", err))
    results.append(SourceResult(spec.name, spec.url, "error", prev["records"] if prev else 0,
                                prev["skipped"] if prev else 1, {"unreadable file": 1}, err))


def _build(path: Path, specs: list[SourceSpec], fetched: dict[str, fetchmod.Fetched],
           old: dict[str, dict[str, Any]], dl: Path, progress: ProgressHook | None, t0: float) -> UpdateResult:
    plan = _plan(specs, fetched, old)
    if all(fetched[s.name].status in ("absent", "error") for s in specs):
        errs = "; ".join(fetched[s.name].error for s in specs if fetched[s.name].error)[:500]
        raise VulnDBError(f"no vulnerability source could be fetched ({errs or 'nothing published at the given URLs'})")
    dropped = set(old) - {s.name for s, a in plan if a != "none"}
    changed = any(a == "parse" for _s, a in plan) or bool(dropped) or not old
    if not changed:
        same = tuple(_result(spec, "error" if fetched[spec.name].status == "error" else "unchanged",
                             old.get(spec.name), fetched[spec.name]) for spec, _a in plan if _a != "none")
        _touch_meta(path, fetched)
        return UpdateResult(path, False, time.monotonic() - t0, same)

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA page_size=8192")
        for ddl in TABLES.values():
            con.execute(ddl)
        if old and any(a == "carry" for _s, a in plan):
            con.execute("ATTACH DATABASE ? AS old", (f"file:{path}?mode=ro",))
        writer = _Writer(con)
        versions = VersionCheck()
        results: list[SourceResult] = []
        metas: list[tuple[Any, ...]] = []
        con.execute("BEGIN")
        for i, (spec, action) in enumerate(plan):
            f = fetched[spec.name]
            prev = old.get(spec.name)
            if progress:
                progress("build", spec.name, i, len(plan))
            if action == "parse":
                stats = SourceStats()
                try:
                    PARSERS[spec.kind](spec, dl / _fname(spec.name), writer, stats, versions)
                    writer.flush()
                except SourceCorrupt as exc:
                    writer.discard()  # parsers raise SourceCorrupt before writing any row of the file
                    _unreadable(con, spec, prev, str(exc), metas, results)
                    con.execute("COMMIT")
                    con.execute("BEGIN")
                    continue
                reasons = dict(stats.reasons)
                if stats.withdrawn:
                    reasons_meta = {**reasons, "(withdrawn, kept by id)": stats.withdrawn}
                else:
                    reasons_meta = reasons
                metas.append((spec.name, spec.url, f.etag, f.last_modified, f.sha256, stats.records, stats.skipped,
                              orjson.dumps(reasons_meta).decode(), _now(), "updated", ""))
                results.append(SourceResult(spec.name, spec.url, "updated", stats.records, stats.skipped, reasons))
                con.execute("COMMIT")
                con.execute("BEGIN")
            elif action == "carry" and prev:
                _carry(con, spec.name)
                status = "error" if f.status == "error" else "unchanged"
                metas.append(_meta_row_prev(prev, status, f.error, fetched_now=f.status != "error"))
                results.append(_result(spec, status, prev, f))
        con.executemany("INSERT INTO meta VALUES (?,?,?,?,?,?,?,?,?,?,?)", metas)
        info = {"schema_version": str(SCHEMA_VERSION), "built_at": _now(),
                "build_seconds": f"{time.monotonic() - t0:.2f}", "containerguard": __version__}
        con.executemany("INSERT INTO info VALUES (?,?)", list(info.items()))
        con.execute("COMMIT")
        if old and any(a == "carry" for _s, a in plan):
            con.execute("DETACH DATABASE old")
        for n, ddl in enumerate(INDEXES):
            if progress:
                progress("index", ddl.split()[2], n, len(INDEXES))
            con.execute(ddl)
        con.execute("ANALYZE")
        con.close()
        os.replace(tmp, path)
    except BaseException:
        con.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return UpdateResult(path, True, time.monotonic() - t0, tuple(results))


def _carry(con: sqlite3.Connection, source: str) -> None:
    for t in DATA_TABLES:
        con.execute(f"INSERT INTO main.{t} SELECT * FROM old.{t} WHERE source = ?", (source,))  # noqa: S608 - fixed table names


def _meta_row_prev(prev: dict[str, Any], status: str, error: str, fetched_now: bool = False) -> tuple[Any, ...]:
    return (prev["source"], prev["url"], prev["etag"], prev["last_modified"], prev["sha256"], prev["records"],
            prev["skipped"], prev["skipped_detail"], _now() if fetched_now else prev["fetched_at"], status, error)


def _result(spec: SourceSpec, status: str, prev: dict[str, Any] | None, f: fetchmod.Fetched) -> SourceResult:
    reasons = orjson.loads(prev["skipped_detail"]) if prev else {}
    return SourceResult(spec.name, spec.url, status, prev["records"] if prev else 0, prev["skipped"] if prev else 0,
                        reasons, f.error)


def _touch_meta(path: Path, fetched: dict[str, fetchmod.Fetched]) -> None:
    """Nothing changed: record the check time (and any fetch error) in the current file, one transaction."""
    try:
        con = sqlite3.connect(path)
        with con:
            for name, f in fetched.items():
                if f.status == "error":
                    con.execute("UPDATE meta SET status='error', error=? WHERE source=?", (f.error, name))
                elif f.status in ("ok", "not-modified"):
                    con.execute("UPDATE meta SET status='unchanged', error='', fetched_at=? WHERE source=?", (_now(), name))
            con.execute("INSERT OR REPLACE INTO info VALUES ('checked_at', ?)", (_now(),))
        con.close()
    except sqlite3.Error as exc:
        raise VulnDBError(f"cannot update {path}: {exc}") from exc
