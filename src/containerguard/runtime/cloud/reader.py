"""Log files -> events, defensively: gzip or plain, one JSON document or JSON lines, bad parts counted and skipped.

Every provider parser (CloudTrail, GCP, Azure, Kubernetes audit) has the same small contract
(:class:`Parser`): ``records(doc)`` splits a decoded document into records and ``event(record)`` turns one
into an :class:`Event` or raises ``ValueError``. This module owns everything about bytes: decompression (a
truncated or corrupt gzip file is counted, and for JSON-lines formats its complete lines are still read), the
size ceiling, JSON decoding and the per-record error handling. A warning names the file and the record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import orjson
from isal import isal_zlib

from containerguard.model import Event
from containerguard.runtime.cloud.health import SourceHealth

#: a file that decompresses to more than this is cut there (and counted): no decompression bomb fills memory
MAX_DOC_BYTES = 1 << 30
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


def events_from_bytes(data: bytes, label: str, parser: Parser, health: SourceHealth) -> Iterator[Event]:
    """Events of one file's content. Malformed records are counted and skipped, the rest still read."""
    plain, complete = decompress(data, label, health)
    health.bytes += len(plain)
    doc: Any = None
    whole = False
    if not complete and not parser.lines:
        return  # already counted: a partial JSON document is not worth guessing at
    fast = getattr(parser, "fast_records", None) if complete else None
    if fast is not None:
        raws = fast(plain)
        if raws is not None:  # the typed fast path (CloudTrail documents)
            for i, raw in enumerate(raws, 1):
                try:
                    ev = parser.fast_event(raw)  # type: ignore[attr-defined]
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    health.skipped(f"{label}: record {i}", str(exc) or type(exc).__name__)
                    continue
                health.saw_event(ev.time_ns)
                yield ev
            return
    if complete and not whole:
        try:
            doc = _loads(plain)
            whole = True
        except orjson.JSONDecodeError as exc:
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
        yield from _events(records, label, parser, health)
        return
    yield from _line_events(plain, label, parser, health, complete)


def _event(rec: Any, where: str, parser: Parser, health: SourceHealth) -> Event | None:
    try:
        ev = parser.event(rec)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        health.skipped(where, str(exc) or type(exc).__name__)
        return None
    health.saw_event(ev.time_ns)
    return ev


def _events(records: list[Any], label: str, parser: Parser, health: SourceHealth) -> Iterator[Event]:
    for i, rec in enumerate(records, 1):
        ev = _event(rec, f"{label}: record {i}", parser, health)
        if ev is not None:
            yield ev


def _line_events(plain: bytes, label: str, parser: Parser, health: SourceHealth, complete: bool) -> Iterator[Event]:
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
            ev = _event(records[0], where, parser, health)
            if ev is not None:
                yield ev
        else:
            yield from _events(records, where, parser, health)


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
class DirectoryState:
    """What a watcher has read: path -> (size, mtime_ns, bytes consumed). A changed document file is read
    again whole; a plain JSON-lines file that grew is read from where the last read stopped (an audit log
    being appended to), and from the start again when it shrank (rotated)."""

    seen: dict[str, tuple[int, int, int]] = field(default_factory=dict)


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


def read_changed(path: str, size: int, mtime: int, parser: Parser, health: SourceHealth,
                 state: DirectoryState) -> Iterator[Event]:
    """Events of ``path`` if it is new or changed since ``state`` saw it (see DirectoryState)."""
    prev = state.seen.get(path)
    if prev is not None and prev[:2] == (size, mtime):
        return
    start = 0
    if parser.lines and prev is not None and prev[2] <= size and not path.endswith(".gz"):
        start = prev[2]
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            if head == _GZIP_MAGIC or not parser.lines:
                start = 0
            fh.seek(start)
            data = fh.read(MAX_DOC_BYTES + 1)
    except OSError as exc:
        state.seen[path] = (size, mtime, 0)
        health.skipped(path, f"cannot read: {exc.strerror or exc}")
        return
    consumed = start + len(data)
    if parser.lines and not data.startswith(_GZIP_MAGIC) and not data.endswith(b"\n") and not _is_json(data):
        cut = data.rfind(b"\n") + 1
        data, consumed = data[:cut], start + cut  # the last line is still being written: next time
    state.seen[path] = (size, mtime, consumed)
    health.files += 1
    yield from events_from_bytes(data, path, parser, health)
    health.read_ok()


def read_directory(root: Path, parser: Parser, health: SourceHealth, state: DirectoryState) -> Iterator[Event]:
    """Events of the files under ``root`` (or of the file ``root``) that are new or changed since ``state``."""
    if root.is_file():
        st = root.stat()
        yield from read_changed(str(root), st.st_size, st.st_mtime_ns, parser, health, state)
        return
    for path, size, mtime in scan_directory(root):
        yield from read_changed(path, size, mtime, parser, health, state)
