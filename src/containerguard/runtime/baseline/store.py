"""Baselines on disk: one SQLite file (``baselines.db``) under the baseline directory.

SQLite from the standard library: the agent needs one small table, no server and no ORM; WAL mode lets the
``containerguard baseline`` commands edit while the agent runs. Every write bumps the row's ``version``; the
agent writes learned entries only over the version it read (a change made meanwhile is reloaded, what the agent
learned since its last save added to it, and saved over it), so an edit is never mixed with half of an older
baseline and no writer's update is lost.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from containerguard.errors import BaselineError
from containerguard.runtime.baseline.profile import Profile

DB_NAME = "baselines.db"


def default_dir() -> Path:
    """Where baselines live unless ``--baseline-dir`` says otherwise: the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("containerguard")) / "baselines"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS workloads (
    key TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
)
"""
_COLUMNS = frozenset({"key", "doc", "version", "updated_ns"})


class BaselineStore:
    """The baselines of one agent (or of the CLI editing them)."""

    def __init__(self, directory: str | Path, *, create: bool = True) -> None:
        """Open (or, with ``create``, make) the store; without ``create`` a directory holding no store is an error
        (a command that only reads or changes existing baselines leaves a mistyped ``--baseline-dir`` alone)."""
        self.path = Path(directory) / DB_NAME
        if not create and not self.path.is_file():
            raise BaselineError(f"no baselines in {Path(directory)} ({DB_NAME} not found; see --baseline-dir)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False,
                                       isolation_level=None)
            # another program's database at this path is not ours to write (not even its journal mode): refused
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(workloads)")}
            if tables and not columns >= _COLUMNS:
                self._db.close()
                raise BaselineError(f"{self.path}: not a ContainerGuard baseline store (no table 'workloads' with "
                                    f"{', '.join(sorted(_COLUMNS))}); give another --baseline-dir")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BaselineError(f"{self.path}: cannot open the baseline store: {exc}") from None
        self._lock = threading.Lock()
        #: workload -> why its stored row cannot be read, as of the last :meth:`load_all`
        self.unreadable: dict[str, str] = {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The connection to ourselves, with SQLite's errors as one-line BaselineErrors (a store another process
        holds locked for longer than the 10 s busy timeout, a disk that is full or read-only)."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise BaselineError(f"{self.path}: {exc}; nothing changed (try again)") from None

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def versions(self) -> dict[str, int]:
        """Every workload's current version."""
        with self._locked():
            return {k: v for k, v in self._db.execute("SELECT key, version FROM workloads")}

    def load(self, key: str) -> Profile | None:
        """One workload's profile, or None."""
        with self._locked():
            row = self._db.execute("SELECT doc, version FROM workloads WHERE key = ?", (key,)).fetchone()
        return self._profile(key, row[0], row[1]) if row else None

    def load_all(self) -> list[Profile]:
        """Every readable stored profile. A row damaged by hand (or by another program) is left out, and left alone:
        its key and the reason are in :attr:`unreadable` until the next call, so one bad row never hides the other
        workloads (``list``, ``export``, the agent's start) and is never overwritten by this call."""
        with self._locked():
            rows = self._db.execute("SELECT key, doc, version FROM workloads ORDER BY key").fetchall()
        out: list[Profile] = []
        self.unreadable = {}
        for k, d, v in rows:
            try:
                out.append(self._profile(k, d, v))
            except BaselineError as exc:
                self.unreadable[str(k)] = str(exc)
        return out

    def _profile(self, key: str, doc: str, version: int) -> Profile:
        from containerguard.runtime.baseline.yamlio import stored_profile

        try:
            if not isinstance(key, str) or not isinstance(version, int) or not isinstance(doc, str | bytes):
                raise ValueError("the row's key, document or version has the wrong type")
            return stored_profile(json.loads(doc), key, version)
        except (ValueError, RecursionError) as exc:
            raise BaselineError(f"{self.path}: the stored baseline of {key!r} is unreadable ({exc}); replace it with "
                                "'containerguard baseline import'") from None

    def save(self, profile: Profile, *, expect_version: int | None = None) -> bool:
        """Write ``profile``. With ``expect_version``, only over that version (False when it changed meanwhile).

        On success ``profile.version`` is the new version.
        """
        doc = json.dumps(profile.to_doc(), separators=(",", ":"))
        now = time.time_ns()
        with self._locked():
            if expect_version is None:  # one statement: another process's write between a read and this one
                # would otherwise be given the same version, and an agent that saved it would not see this change
                version = self._db.execute(
                    "INSERT INTO workloads (key, doc, version, updated_ns) VALUES (?, ?, 1, ?) ON CONFLICT(key) DO "
                    "UPDATE SET doc = excluded.doc, version = workloads.version + 1, updated_ns = excluded.updated_ns "
                    "RETURNING version", (profile.key, doc, now)).fetchall()[0][0]
            else:
                version = expect_version + 1
                if expect_version == 0:
                    res = self._db.execute("INSERT OR IGNORE INTO workloads (key, doc, version, updated_ns) "
                                           "VALUES (?, ?, ?, ?)", (profile.key, doc, version, now))
                else:
                    res = self._db.execute("UPDATE workloads SET doc = ?, version = ?, updated_ns = ? "
                                           "WHERE key = ? AND version = ?",
                                           (doc, version, now, profile.key, expect_version))
                if res.rowcount != 1:
                    return False
        profile.version = version
        return True

    def replace_all(self, profiles: list[Profile]) -> None:
        """Write ``profiles`` (an import) in one transaction: all of them or, on any error, none. A document that
        gives no times (written by hand) is created and last changed now: its quiet period counts from the import,
        not from 1970 (it would be promoted to monitor at the agent's next tick, before it learned anything). One
        that gives them (an export) keeps them, so an export imports back as it was."""
        now = time.time_ns()
        for p in profiles:
            p.last_change_ns = p.last_change_ns or now
            p.created_ns = p.created_ns or now
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for p in profiles:
                    cur = self._db.execute("SELECT version FROM workloads WHERE key = ?", (p.key,)).fetchone()
                    p.version = (cur[0] if cur else 0) + 1
                    self._db.execute("INSERT OR REPLACE INTO workloads (key, doc, version, updated_ns) "
                                     "VALUES (?, ?, ?, ?)",
                                     (p.key, json.dumps(p.to_doc(), separators=(",", ":")), p.version, now))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise BaselineError(f"{self.path}: nothing imported: {exc}") from None

    def set_mode(self, name: str, mode: str, *, retries: int = 5) -> list[Profile]:
        """Set the mode of workload ``name`` and of every other workload of its image (an image has one mode:
        a running agent applies it to each running container of the image within a second). Returns the changed
        profiles. Each is written over the version read, so what the agent learned meanwhile is not lost."""
        target = self.find(name)
        changed: list[Profile] = []
        group = [target] + ([p for p in self.load_all() if p.image_id == target.image_id and p.key != target.key]
                            if target.image_id else [])
        for prof in group:
            for _ in range(retries):
                cur = self.load(prof.key)
                if cur is None:
                    break
                expect = cur.version
                cur.mode = mode
                if mode == "learn":
                    cur.last_change_ns = time.time_ns()  # a fresh quiet period
                if self.save(cur, expect_version=expect):
                    changed.append(cur)
                    break
            else:
                raise BaselineError(f"{prof.key}: the baseline kept changing; try again")
        return changed

    def save_edit(self, before: Profile, after: Profile, *, retries: int = 5) -> Profile:
        """Save ``after``, an edit of ``before`` (as read, with its version). When the baseline changed meanwhile
        (the agent saved what it learned, a mode was set) the edit is applied to the stored one
        (:meth:`Profile.rebased`), so neither the edit nor what was saved meanwhile is lost. Returns what was
        saved."""
        for _ in range(retries):
            cur = self.load(before.key)
            if cur is None:  # removed meanwhile: the edit is the whole baseline
                merged, expect = Profile.from_doc(after.to_doc()), 0
            else:
                merged = Profile.from_doc(after.to_doc()) if cur.version == before.version else \
                    after.rebased(before, cur)
                expect = cur.version
            if self.save(merged, expect_version=expect):
                return merged
        raise BaselineError(f"{before.key}: the baseline kept changing; try again")

    def delete(self, key: str) -> bool:
        """Remove a workload's baseline; False when there was none."""
        with self._locked():
            return self._db.execute("DELETE FROM workloads WHERE key = ?", (key,)).rowcount == 1

    def find(self, name: str) -> Profile:
        """The workload named by its key, or by a unique key prefix / name pattern (BaselineError otherwise)."""
        if not name.strip():  # a prefix of every key: never "the only workload" by accident
            raise BaselineError("no workload named: give its key, a unique key prefix or its name pattern")
        exact = self.load(name)
        if exact is not None:
            return exact
        hits = [p for p in self.load_all() if p.key.startswith(name) or p.name_pattern == name]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            broken = [k for k in self.unreadable if k.startswith(name)]
            if len(broken) == 1:  # named, but its row is damaged: say that, not "no baseline"
                raise BaselineError(self.unreadable[broken[0]])
            raise BaselineError(f"no baseline for workload {name!r} in {self.path}")
        raise BaselineError(f"{name!r} names {len(hits)} workloads: {', '.join(p.key for p in hits[:5])}")
