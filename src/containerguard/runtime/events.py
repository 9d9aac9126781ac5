"""The JSON-lines event format (docs/events.md): what the agent records and ``rules replay`` reads.

Reading is defensive: a line longer than ``max_line_bytes``, a line that is not JSON, or a JSON value that is
not a well-formed event is an :class:`EventFormatError` naming ``file:line`` (strict mode) or a skipped,
counted line (``strict=False``); the reader never loads an oversized line into memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from sys import intern as _intern
from typing import IO, Any, BinaryIO

from containerguard.errors import RuntimeSensorError
from containerguard.model import Event
from containerguard.runtime.rules.vocabulary import SOURCES

MAX_LINE_BYTES = 1 << 20
_BYTES_KEY = "$bytes"


class LazyJSON:
    """A raw JSON document kept as bytes and parsed on first use: audit sources store the record this way under
    ``jevt`` (``json.value[/pointer]`` reads it), so a record no rule looks into is never parsed whole."""

    __slots__ = ("_raw", "_value")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._value: Any = None

    def value(self) -> Any:
        """The parsed document (parsed once, on the first call)."""
        if self._value is None:
            self._value = json.loads(self._raw)
        return self._value


class EventFormatError(RuntimeSensorError):
    """A recorded event line is malformed; the message starts with ``file:line:``."""

    def __init__(self, message: str, file: str, line: int) -> None:
        self.file = file
        self.line = line
        self.reason = message
        super().__init__(f"{file}:{line}: {message}")


@dataclass
class ReadStats:
    """What a lenient read skipped."""

    read: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # the first few messages

    def note(self, err: EventFormatError) -> None:
        """Count one skipped line, keeping the first messages."""
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(err))


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1 and _BYTES_KEY in v:
        try:
            return base64.b64decode(str(v[_BYTES_KEY]), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"bad base64 in {_BYTES_KEY} value") from None
    return v


def event_from_json(obj: Any) -> Event:
    """Validate one decoded JSON value as an Event; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"an event must be a JSON object, got {type(obj).__name__}")
    etype = obj.get("type")
    if not isinstance(etype, str) or not etype:
        raise ValueError("'type' must be a non-empty string")
    ts = obj.get("time_ns", 0)
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise ValueError("'time_ns' must be a non-negative integer")
    source = obj.get("source", "syscall")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r} (known: {', '.join(sorted(SOURCES))})")
    fields = obj.get("fields", {})
    if not isinstance(fields, dict):
        raise ValueError("'fields' must be a JSON object")
    # interned keys: the rules engine looks fields up by the same (interned) string constants, so lookups hit
    # the identity fast path instead of comparing strings
    decoded = {_intern(k): (_decode_value(v) if type(v) is dict else v) for k, v in fields.items()}
    return Event(type=etype, time_ns=ts, fields=decoded, source=source)


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON document for one event (bytes values become ``{"$bytes": base64}``)."""
    fields = {k: ({_BYTES_KEY: base64.b64encode(v).decode()} if isinstance(v, bytes)
                  else v.value() if isinstance(v, LazyJSON) else v)
              for k, v in event.fields.items()}
    return {"type": event.type, "time_ns": event.time_ns, "source": event.source, "fields": fields}


def write_event(fh: IO[str], event: Event) -> None:
    """Append ``event`` to a text stream as one JSON line."""
    fh.write(json.dumps(event_to_json(event), separators=(",", ":"), default=str))
    fh.write("\n")


def _lines(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) pairs; bytes is None for a line longer than ``max_bytes`` (drained, not kept)."""
    n = 0
    while True:
        chunk = fh.readline(max_bytes + 1)
        if not chunk:
            return
        n += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = fh.readline(1 << 16)
            yield n, None
            continue
        yield n, chunk


def iter_events(fh: BinaryIO, label: str, *, strict: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                stats: ReadStats | None = None) -> Iterator[Event]:
    """Events from an open binary stream (see :func:`read_events`)."""
    for n, raw in _lines(fh, max_line_bytes):
        err: EventFormatError | None = None
        if raw is None:
            err = EventFormatError(f"event line longer than {max_line_bytes} bytes", label, n)
        else:
            text = raw.strip()
            if not text:
                continue
            try:
                ev = event_from_json(json.loads(text.decode("utf-8")))
            except UnicodeDecodeError:
                err = EventFormatError("line is not UTF-8 text", label, n)
            except json.JSONDecodeError as exc:
                err = EventFormatError(f"not JSON ({exc.msg} at column {exc.colno})", label, n)
            except RecursionError:
                err = EventFormatError("not JSON (nested too deeply)", label, n)
            except ValueError as exc:
                err = EventFormatError(str(exc) or "invalid event", label, n)
            else:
                if stats is not None:
                    stats.read += 1
                yield ev
                continue
        if strict:
            raise err
        if stats is not None:
            stats.note(err)


def read_events(path: str | PathLike[str], *, strict: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                stats: ReadStats | None = None) -> Iterator[Event]:
    """Events from a JSON-lines file (``-`` reads standard input)."""
    label = str(path)
    if label == "-":
        yield from iter_events(sys.stdin.buffer, "<stdin>", strict=strict, max_line_bytes=max_line_bytes, stats=stats)
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, also when the consumer stops early
    except OSError as exc:
        raise RuntimeSensorError(f"{label}: cannot read events: {exc.strerror or exc}") from None
    with fh:
        yield from iter_events(fh, label, strict=strict, max_line_bytes=max_line_bytes, stats=stats)

