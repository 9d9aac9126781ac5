"""Log files -> events, defensively: gzip or plain, one JSON document or JSON lines, bad parts counted and skipped.

Every provider parser (CloudTrail, GCP, Azure, Kubernetes audit) has the same small contract
(:class:`Parser`): ``records(doc)`` splits a decoded document into records and ``event(record)`` turns one
into an :class:`Event` or raises ``ValueError``. This module owns everything about bytes: decompression (a
truncated or corrupt gzip file is counted, and for JSON-lines formats its complete lines are still read), the
size ceiling, JSON decoding and the per-record error handling. A warning names the file and the record.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import multiprocessing
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import orjson
from isal import isal_zlib

from containerguard.model import Alert, Event
from containerguard.runtime.cloud.health import SourceHealth

#: a file that decompresses to more than this is cut there (and counted): no decompression bomb fills memory
MAX_DOC_BYTES = 1 << 30
log = logging.getLogger(__name__)
_GZIP_MAGIC = b"\x1f\x8b"
_ZLIB_ERRORS: tuple[type[BaseException], ...] = (cast("type[BaseException]", isal_zlib.error),)


class Parser(Protocol):
    """Turns one audit-log document into records, and each record into a rule event."""
    source: str
    #: True when a file may hold one JSON document per line (GCP sink files, Azure exports, audit logs)
    lines: bool

    def records(self, doc: Any) -> list[Any]:
        """The records one decoded document holds."""
        ...

    def event(self, rec: Any) -> Event:
        """One record as a rule event (RecordError when it is malformed)."""
        ...

    def stateful(self, ev: Event) -> bool:
        """Whether :meth:`ordered` would add per-source state to this event (it must then be evaluated after)."""
        ...

    def ordered(self, ev: Event) -> None:
        """The per-source state (secret reads counted per principal), applied to each event in delivery order by
        the process that consumes the events: files parsed by a pool of processes are merged back in path
        order first."""
        ...


def decompress(data: bytes, label: str, health: SourceHealth) -> tuple[bytes, bool]:
    """(plain bytes, complete). Gzip (also multi-member) is inflated up to MAX_DOC_BYTES; a truncated or
    corrupt stream yields what inflated before the damage, with complete=False and the file counted."""
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > MAX_DOC_BYTES:
            health.skipped(label, f"larger than {MAX_DOC_BYTES} bytes; only the first part is read")
            return data[:MAX_DOC_BYTES], False
        return data, True
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            d = isal_zlib.decompressobj(wbits=31)
            chunk = d.decompress(rest, MAX_DOC_BYTES - size + 1)
            out.append(chunk)
            size += len(chunk)
            if size > MAX_DOC_BYTES:
                health.skipped(label, f"decompresses to more than {MAX_DOC_BYTES} bytes; only the first part is read")
                return b"".join(out)[:MAX_DOC_BYTES], False
            if not d.eof:
                health.skipped(label, "truncated gzip file (ends before the end-of-stream marker)")
                return b"".join(out), False
            rest = d.unused_data
            if rest and not rest.startswith(_GZIP_MAGIC):
                break  # trailing garbage after the last member: gzip(1) ignores it too
    except _ZLIB_ERRORS as exc:
        health.skipped(label, f"corrupt gzip data: {exc}")
        return b"".join(out), False
    return out[0] if len(out) == 1 else b"".join(out), True


def _loads(text: bytes) -> Any:
    return orjson.loads(text)


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except (orjson.JSONDecodeError, RecursionError):
        return False
    return True


def events_from_bytes(data: bytes, label: str, parser: Parser, health: SourceHealth, *,
                      ordered: bool = True) -> Iterator[Event]:
    """Events of one file's content. Malformed records are counted and skipped, the rest still read.
    ``ordered=False`` leaves :meth:`Parser.ordered` to the caller (a pool worker's events are merged first)."""
    post = parser.ordered if ordered else None
    plain, complete = decompress(data, label, health)
    health.bytes += len(plain)
    doc: Any = None
    whole = False
    if not complete and not parser.lines:
        return  # already counted: a partial JSON document is not worth guessing at
    if parser.lines and not plain.strip():
        return  # nothing (yet): an empty log file, or one whose only line is still being written
    fast = getattr(parser, "fast_records", None) if complete else None
    if fast is not None:
        raws = fast(plain)
        if raws is not None:  # the typed fast path (CloudTrail documents)
            for i, raw in enumerate(raws, 1):
                try:
                    ev = parser.fast_event(raw)  # type: ignore[attr-defined]
                except _RECORD_ERRORS as exc:
                    health.skipped(f"{label}: record {i}", _reason(exc))
                    continue
                if post is not None:
                    post(ev)
                health.saw_event(ev.time_ns)
                yield ev
            return
    if complete and not whole:
        try:
            doc = _loads(plain)
            whole = True
        except orjson.JSONDecodeError as exc:
            items = split_records(plain) if _DEPTH_ERROR in str(exc) else None
            if items is not None:  # one record nested too deeply must not cost the file's others
                yield from _raw_events(items, label, parser, health, post)
                return
            if not parser.lines or not plain.lstrip().startswith(b"{"):
                health.skipped(label, f"not JSON ({exc})")
                return
        except RecursionError:
            health.skipped(label, "not JSON (nested too deeply)")
            return
    if whole:
        try:
            records = parser.records(doc)
        except ValueError as exc:
            health.skipped(label, str(exc))
            return
        yield from _events(records, label, parser, health, post)
        return
    yield from _line_events(plain, label, parser, health, complete, post)


_Post = Callable[[Event], None] | None
#: what a parser's event() may raise for a malformed record (RecursionError: nested past a JSON library's depth)
_RECORD_ERRORS = (ValueError, TypeError, KeyError, AttributeError, RecursionError)
#: orjson's message when a document is nested past its depth limit (1024)
_DEPTH_ERROR = "depth limit"
#: strings, brackets, commas and colons: all split_records needs to see of a JSON text
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
#: the members that hold a document's records (CloudTrail, GCP entries.list and Pub/Sub pulls, Azure, k8s)
_RECORD_KEYS = frozenset({b'"Records"', b'"entries"', b'"receivedMessages"', b'"records"', b'"value"', b'"items"'})


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__


def split_records(plain: bytes) -> list[bytes] | None:
    """The record texts of a document too deeply nested to decode whole: the items of a top-level array, or of
    the records member (``Records``, ``entries``, ...) of a top-level object. A scan without recursion, so any
    depth; None when the document is not such a container (or is not well formed at the top)."""
    depth, key, start = 0, b"", -1
    target = 0
    items: list[bytes] = []
    prev = b""
    for m in _TOKENS.finditer(plain):
        tok = m.group()
        c = tok[:1]
        if c == b'"':
            prev = tok
            continue
        if c == b":":
            key = prev if depth == 1 else key
        elif c in b"[{":
            depth += 1
            if not target and c == b"[" and (depth == 1 or (depth == 2 and key in _RECORD_KEYS)):
                target, start = depth, m.end()
        elif c in b"]}":
            if depth == target:
                items.append(plain[start:m.start()])
                return [i for i in items if i.strip()]
            depth -= 1
        elif c == b"," and depth == target:
            items.append(plain[start:m.start()])
            start = m.end()
        prev = b""
    return None


def _raw_events(items: list[bytes], label: str, parser: Parser, health: SourceHealth, post: _Post) -> Iterator[Event]:
    for i, raw in enumerate(items, 1):
        where = f"{label}: record {i}"
        try:
            rec = _loads(raw)
        except orjson.JSONDecodeError as exc:
            health.skipped(where, "nested too deeply" if _DEPTH_ERROR in str(exc) else f"not JSON ({exc})")
            continue
        ev = _event(rec, where, parser, health, post)
        if ev is not None:
            yield ev


def _event(rec: Any, where: str, parser: Parser, health: SourceHealth, post: _Post) -> Event | None:
    try:
        ev = parser.event(rec)
    except _RECORD_ERRORS as exc:
        health.skipped(where, _reason(exc))
        return None
    if post is not None:
        post(ev)
    health.saw_event(ev.time_ns)
    return ev


def _events(records: list[Any], label: str, parser: Parser, health: SourceHealth, post: _Post) -> Iterator[Event]:
    for i, rec in enumerate(records, 1):
        ev = _event(rec, f"{label}: record {i}", parser, health, post)
        if ev is not None:
            yield ev


def _line_events(plain: bytes, label: str, parser: Parser, health: SourceHealth, complete: bool,
                 post: _Post) -> Iterator[Event]:
    lines = plain.split(b"\n")
    if not complete and lines:
        lines.pop()  # the last line of a truncated file is cut
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        where = f"{label}: line {n}"
        try:
            records = parser.records(_loads(line))
        except orjson.JSONDecodeError as exc:
            health.skipped(where, f"not JSON ({exc})")
            continue
        except RecursionError:
            health.skipped(where, "not JSON (nested too deeply)")
            continue
        except ValueError as exc:
            health.skipped(where, str(exc))
            continue
        if len(records) == 1:
            ev = _event(records[0], where, parser, health, post)
            if ev is not None:
                yield ev
        else:
            yield from _events(records, where, parser, health, post)


def read_file(path: str | os.PathLike[str], parser: Parser, health: SourceHealth) -> Iterator[Event]:
    """Events of one log file; an unreadable file is counted, not raised."""
    label = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_DOC_BYTES + 1)
    except OSError as exc:
        health.skipped(label, f"cannot read: {exc.strerror or exc}")
        return
    health.files += 1
    yield from events_from_bytes(data, label, parser, health)
    health.read_ok()


_SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".crdownload")


def _wanted(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(_SKIP_SUFFIXES) and not name.endswith("~")


@dataclass
@dataclass
class DirectoryState:
    """What a watcher has read: path -> (size, mtime_ns, bytes consumed). A changed document file is read
    again whole; a plain JSON-lines file that grew is read from where the last read stopped (an audit log
    being appended to), and from the start again when it shrank (rotated). ``live``: files may still be being
    written, so a last line without its newline waits for the next read; a finite read (``rules replay``) sets
    it False and reads every line."""

    seen: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    live: bool = True


def scan_directory(root: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of the log files under ``root``, in path order (CloudTrail's layout sorts by
    account, region, date). Symbolic links are not followed out of the tree."""
    out: list[tuple[str, int, int]] = []
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if not _wanted(e.name):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    out.append((e.path, st.st_size, st.st_mtime_ns))
            except OSError:
                continue
    out.sort()
    return out


def _read_bytes(path: str, size: int, prev: tuple[int, int, int] | None, lines: bool,
                live: bool = True) -> tuple[bytes, int]:
    """(the bytes to parse, how far the file is consumed after them) for a new or changed file (see
    DirectoryState); raises OSError."""
    start = 0
    if lines and prev is not None and prev[2] <= size and not path.endswith(".gz"):
        start = prev[2]
    with open(path, "rb") as fh:
        head = fh.read(2)
        if head == _GZIP_MAGIC or not lines:
            start = 0
        fh.seek(start)
        data = fh.read(MAX_DOC_BYTES + 1)
    consumed = start + len(data)
    if live and lines and not data.startswith(_GZIP_MAGIC) and not data.endswith(b"\n") and not _is_json(data):
        cut = data.rfind(b"\n") + 1
        data, consumed = data[:cut], start + cut  # the last line is still being written: next time
    return data, consumed


def _changed(path: str, size: int, mtime: int, state: DirectoryState) -> bool:
    prev = state.seen.get(path)
    return prev is None or prev[:2] != (size, mtime)


def read_changed(path: str, size: int, mtime: int, parser: Parser, health: SourceHealth,
                 state: DirectoryState) -> Iterator[Event]:
    """Events of ``path`` if it is new or changed since ``state`` saw it (see DirectoryState)."""
    if not _changed(path, size, mtime, state):
        return
    try:
        data, consumed = _read_bytes(path, size, state.seen.get(path), parser.lines, state.live)
    except OSError as exc:
        state.seen[path] = (size, mtime, 0)
        health.skipped(path, f"cannot read: {exc.strerror or exc}")
        return
    state.seen[path] = (size, mtime, consumed)
    health.files += 1
    yield from events_from_bytes(data, path, parser, health)
    health.read_ok()


def read_directory(root: Path, parser: Parser, health: SourceHealth, state: DirectoryState, *,
                   pool: ReadPool | None = None) -> Iterator[Event]:
    """Events of the files under ``root`` (or of the file ``root``) that are new or changed since ``state``, in
    path order. With a ``pool``, several changed files are decompressed and parsed by its worker processes and
    their events handed back file by file in the same order (and with the same state and health) as read here."""
    for ev, alerts in evaluate_directory(root, parser, health, state, pool=pool):
        assert alerts is None
        yield ev


#: an event, and the alerts its rules gave when a pool worker evaluated them (None: evaluate it here)
Evaluated = tuple[Event, "list[Alert] | None"]


def evaluate_directory(root: Path, parser: Parser, health: SourceHealth, state: DirectoryState, *,
                       pool: ReadPool | None = None) -> Iterator[Evaluated]:
    """As :func:`read_directory`; when the ``pool`` has rules, its workers evaluate them and only the events
    that gave alerts (with their alerts) and those carrying per-source state (see :meth:`Parser.ordered`, to be
    evaluated here, in order) come back. ``health.events`` counts every event either way."""
    if root.is_file():
        st = root.stat()
        todo = [(str(root), st.st_size, st.st_mtime_ns)]
    else:
        todo = [(p, size, mtime) for p, size, mtime in scan_directory(root) if _changed(p, size, mtime, state)]
    if pool is None or len(todo) < 2:
        for path, size, mtime in todo:
            for ev in read_changed(path, size, mtime, parser, health, state):
                yield ev, None
        return
    jobs = ((type(parser), path, size, mtime, state.seen.get(path), state.live) for path, size, mtime in todo)
    for res in pool.results(jobs):
        state.seen[res.path] = (res.size, res.mtime, res.consumed)
        if res.read:
            health.files += 1
            health.bytes += res.bytes
        for where, reason in res.warnings:
            health.skipped(where, reason)
        health.saw_events(res.evaluated, res.newest_ns)  # the ones that stayed in the worker
        for etype, ts, source, fields, alerts in res.items:
            ev = Event(type=etype, time_ns=ts, fields=fields, source=source)
            if alerts is None:
                parser.ordered(ev)
            health.saw_event(ev.time_ns)
            yield ev, alerts
        if res.read:
            health.read_ok()


# ------------------------------------------------------------------ reading in several processes


@dataclass
class FileResult:
    """What a worker read from one file: the events that come back (per-source state not yet applied) with the
    alerts the worker's rules gave (None: not evaluated there), how many more it evaluated and dropped (no
    alert), the warnings for what it skipped, and how far the file is consumed."""

    path: str
    size: int
    mtime: int
    consumed: int
    read: bool
    bytes: int = 0
    #: (type, time_ns, source, fields, alerts) per event that comes back (an Event pickles slower than this)
    items: list[tuple[str, int, str, Mapping[str, Any], list[Alert] | None]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    evaluated: int = 0
    newest_ns: int = 0
    #: rule name -> evaluations that raised in the worker (a field of an unexpected type)
    eval_errors: dict[str, int] = field(default_factory=dict)


class _Collecting(SourceHealth):
    """A worker's health: skipped records kept (the reading process counts and logs them), nothing logged."""

    def __init__(self) -> None:
        super().__init__("worker", "worker")
        self.warnings: list[tuple[str, str]] = []

    def skipped(self, where: str, reason: str) -> None:
        self.warnings.append((where, reason))


_WORKER_PARSERS: dict[type, Parser] = {}
#: a worker's ruleset (set by the pool's initializer)
_WORKER_RULES: list[Any] = []


#: what a pool's workers evaluate: rules files, or a picklable function that loads the ruleset (the agent's
#: ``functools.partial(load_rules, paths, available_fields=..., ...)``), or None (events come back unevaluated)
RulesSpec = tuple[str, ...] | Callable[[], Any] | None


def _init_worker(rules: RulesSpec) -> None:
    if rules is None:
        return
    if callable(rules):
        _WORKER_RULES[:] = [rules()]
        return
    from containerguard.runtime.rules import load_rules

    _WORKER_RULES[:] = [load_rules(list(rules))]


def _read_in_worker(parser_cls: type, path: str, size: int, mtime: int, prev: tuple[int, int, int] | None,
                    live: bool) -> FileResult:
    parser = _WORKER_PARSERS.get(parser_cls)
    if parser is None:
        parser = _WORKER_PARSERS[parser_cls] = parser_cls()
    h = _Collecting()
    try:
        data, consumed = _read_bytes(path, size, prev, parser.lines, live)
    except OSError as exc:
        return FileResult(path, size, mtime, 0, False, warnings=[(path, f"cannot read: {exc.strerror or exc}")])
    res = FileResult(path, size, mtime, consumed, True, 0, warnings=h.warnings)
    events = events_from_bytes(data, path, parser, h, ordered=False)
    if not _WORKER_RULES:
        res.items = [(ev.type, ev.time_ns, ev.source, ev.fields, None) for ev in events]
    else:
        ruleset = _WORKER_RULES[0]
        evaluate, errors_before = ruleset.evaluate, dict(ruleset.eval_errors)
        stateful = parser.stateful
        for ev in events:
            if stateful(ev):  # its per-source state is counted, and its rules run, in order, where it is read
                res.items.append((ev.type, ev.time_ns, ev.source, ev.fields, None))
                continue
            alerts = evaluate(ev)
            if alerts:
                res.items.append((ev.type, ev.time_ns, ev.source, ev.fields, alerts))
            else:
                res.evaluated += 1
                if ev.time_ns > res.newest_ns:
                    res.newest_ns = ev.time_ns
        res.eval_errors = {rule: n - errors_before.get(rule, 0) for rule, n in ruleset.eval_errors.items()
                           if n != errors_before.get(rule, 0)}
    res.bytes = h.bytes
    return res


def default_workers() -> int:
    """The processes a pool uses by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class ReadPool:
    """Worker processes that decompress and parse log files (files are independent); results come back in the
    order the files were given, at most ``2 * workers`` files ahead of the consumer. The processes start on
    first use (forkserver: safe in a threaded agent) and live until :meth:`close`. Several threads may read
    through one pool. :meth:`use` switches the rules (a reload): reads already under way finish with the
    processes they started on, which then stop; the next reads start new ones."""

    def __init__(self, workers: int | None = None, rules: list[str] | Callable[[], Any] | None = None) -> None:
        self.workers = workers or default_workers()
        self.rules: RulesSpec = tuple(rules) if isinstance(rules, list) else rules
        self._ex: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._users: dict[concurrent.futures.ProcessPoolExecutor, int] = {}
        #: rule name -> evaluations that raised in the workers (as RuleSet.eval_errors counts them in process)
        self.eval_errors: collections.Counter[str] = collections.Counter()

    def _acquire(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._ex is None:
                log.info("reading log files in %d processes", self.workers)
                self._ex = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("forkserver"), initializer=_init_worker,
                    initargs=(self.rules,))
            ex = self._ex
            self._users[ex] = self._users.get(ex, 0) + 1
            return ex

    def _release(self, ex: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            self._users[ex] -= 1
            if self._users[ex] or ex is self._ex:
                return
            del self._users[ex]
        ex.shutdown(wait=False, cancel_futures=True)  # retired by use() and no longer read from

    def results(self, jobs: Iterable[tuple[type, str, int, int, tuple[int, int, int] | None, bool]],
                ) -> Iterator[FileResult]:
        """Each job's FileResult, in job order."""
        ex = self._acquire()
        ahead: deque[concurrent.futures.Future[FileResult]] = deque()
        try:
            for job in jobs:
                ahead.append(ex.submit(_read_in_worker, *job))
                if len(ahead) >= 2 * self.workers:
                    yield self._done(ahead.popleft())
            while ahead:
                yield self._done(ahead.popleft())
        finally:
            for fut in ahead:
                fut.cancel()
            self._release(ex)

    def _done(self, fut: concurrent.futures.Future[FileResult]) -> FileResult:
        res = fut.result()
        if res.eval_errors:
            self.eval_errors.update(res.eval_errors)
        return res

    def use(self, rules: list[str] | Callable[[], Any] | None) -> None:
        """Evaluate ``rules`` from the next read on (new worker processes load them)."""
        with self._lock:
            old, self._ex = self._ex, None
            self.rules = tuple(rules) if isinstance(rules, list) else rules
            idle = old is not None and not self._users.get(old)
            if idle and old is not None:
                self._users.pop(old, None)
        if idle and old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes."""
        with self._lock:
            executors = {*self._users, *([self._ex] if self._ex is not None else [])}
            self._ex = None
            self._users.clear()
        for ex in executors:
            ex.shutdown(wait=True, cancel_futures=True)
