"""The JSON-lines event format (docs/events.md): what the agent records and ``rules replay`` reads.

Reading is defensive: a line longer than ``max_line_bytes``, a line that is not JSON, or a JSON value that is
not a well-formed event is an :class:`EventFormatError` naming ``file:line`` (strict mode) or a skipped,
counted line (``strict=False``); the reader never loads an oversized line into memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from sys import intern as _intern
from typing import IO, Any, BinaryIO

from containerguard.errors import RuntimeSensorError
from containerguard.model import Event
from containerguard.runtime.rules.fields import FIELD_CATALOG, storage_key
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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyJSON) and (self._raw == other._raw or self.value() == other.value())

    __hash__ = None  # type: ignore[assignment]


_MISS = object()
_dget = dict.get


class LazyFields(dict[str, Any]):
    """A field map some of whose fields are computed on first read (audit sources: a record no rule looks
    into is never taken apart).

    A subclass lists its fillers in ``FILLERS``: field name -> (bit, function). The first read of a field that
    is not yet in the map runs its filler once, which stores that field and usually its siblings (one decode
    of ``userIdentity`` gives every ``ct.user.*``). Reads (``get``, ``[]``, ``in``) fill what they need;
    whole-map views (``items``, ``keys``, iteration, ``len``, ``==``, copies, pickling with ``full=True``)
    fill everything first, so a recording or a JSON dump holds every field. ``src`` is what the fillers
    read (the raw record); a pickled map (sent from a pool's worker) carries it and the fields no filler
    computes (set from outside), and the rest is computed again where it is read. ``done`` has the bits of the
    fillers that ran.
    """

    __slots__ = ("done", "src")
    FILLERS: dict[str, tuple[int, Callable[[LazyFields], None]]] = {}
    ALL = 0

    def __init__(self, src: Any, eager: dict[str, Any] | None = None, done: int = 0) -> None:
        if eager:
            super().__init__(eager)
        else:
            super().__init__()
        self.src = src
        self.done = done

    def _fill(self, key: str) -> bool:
        spec = self.FILLERS.get(key)
        if spec is None or self.done & spec[0]:
            return False
        self.done |= spec[0]
        spec[1](self)
        return True

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, computing it (and its siblings) on first read; ``default`` when it is absent."""
        v = _dget(self, key, _MISS)
        if v is not _MISS:
            return v
        spec = self.FILLERS.get(key)  # inline: most misses are fields the record just does not have
        if spec is None or self.done & spec[0]:
            return default
        self.done |= spec[0]
        spec[1](self)
        return _dget(self, key, default)

    def __missing__(self, key: str) -> Any:
        if self._fill(key):
            v = _dget(self, key, _MISS)
            if v is not _MISS:
                return v
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (isinstance(key, str) and self._fill(key)
                                                 and dict.__contains__(self, key))

    def fill_all(self) -> LazyFields:
        """Compute every field not computed yet (returns self)."""
        if self.done != self.ALL:
            for bit, fn in {spec for spec in self.FILLERS.values()}:
                if not self.done & bit:
                    self.done |= bit
                    fn(self)
        return self

    def keys(self):  # type: ignore[no-untyped-def]
        """Every field name (all computed first)."""
        return dict.keys(self.fill_all())

    def items(self):  # type: ignore[no-untyped-def]
        """Every (field, value) pair (all computed first)."""
        return dict.items(self.fill_all())

    def values(self):  # type: ignore[no-untyped-def]
        """Every value (all computed first)."""
        return dict.values(self.fill_all())

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self.fill_all())

    def __len__(self) -> int:
        return dict.__len__(self.fill_all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyFields):
            other.fill_all()
        return dict.__eq__(self.fill_all(), other)

    __hash__ = None

    def copy(self) -> dict[str, Any]:
        """A plain dict of every field."""
        return dict(dict.items(self.fill_all()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self.fill_all())})"

    def __reduce__(self) -> tuple[Any, ...]:
        # the source travels, and what was added from outside (fields no filler computes); every computed field
        # is computed again where it is read -- smaller and faster to pickle than the fields themselves
        extra = dict.keys(self) - self.FILLERS.keys()
        return (type(self), (self.src, {k: _dget(self, k) for k in extra} if extra else None))


class EventFormatError(RuntimeSensorError):
    """A recorded event line is malformed; the message starts with ``file:line:``."""

    def __init__(self, message: str, file: str, line: int) -> None:
        self.file = file
        self.line = line
        self.reason = message
        super().__init__(f"{file}:{line}: {message}")


@dataclass
class ReadStats:
    """What a lenient read skipped, and the fields it read as not supplied (of the wrong type)."""

    read: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # the first few messages
    bad_fields: int = 0
    field_errors: list[str] = field(default_factory=list)  # the first few messages

    def note(self, err: EventFormatError) -> None:
        """Count one skipped line, keeping the first messages."""
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(err))

    def note_fields(self, label: str, line: int, problems: list[str]) -> None:
        """Count the fields of one event read as not supplied, keeping the first messages."""
        self.bad_fields += len(problems)
        for p in problems:
            if len(self.field_errors) < 20:
                self.field_errors.append(f"{label}:{line}: {p}: evaluated as <NA>")


# ------------------------------------------------------------------ field types (docs/events.md, Value types)

_WRONG = object()
_KIND = {"string": "a string", "int": "an integer", "bool": "true or false", "list": "a list of strings",
         "ilist": "a list of integers", "dict": "an object"}
_JSON_NAME = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "an array",
              dict: "an object", bytes: "bytes"}


_DECIMAL = re.compile(r"\s*-?[0-9]{1,20}\s*")


def _as_int(v: Any) -> Any:
    if type(v) is str and _DECIMAL.fullmatch(v):
        return int(v)  # a number written as a decimal string
    return _WRONG


def _as_text(v: Any) -> Any:
    if type(v) in (int, float):  # a number where text belongs reads as its text, as Falco renders every argument
        return str(v)
    if type(v) is bytes:  # a name recorded as {"$bytes": ...}: the text the sensor would have given
        return v.decode("utf-8", "surrogateescape")
    return _WRONG


def _as_bool(v: Any) -> Any:
    low = v.strip().lower() if type(v) is str else None
    return (low == "true") if low in ("true", "false") else _WRONG


def _as_list(v: Any, item: Callable[[Any], Any], want: type) -> Any:
    if type(v) is not list:
        return _WRONG
    out = [x if type(x) is want else item(x) for x in v]
    return _WRONG if any(x is _WRONG for x in out) else out


#: catalog type -> the conversion of a value of another type (or _WRONG)
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "string": _as_text, "int": _as_int, "bool": _as_bool,
    "list": lambda v: _as_list(v, _as_text, str), "ilist": lambda v: _as_list(v, _as_int, int),
    "dict": lambda v: _WRONG,
}
_PYTYPE = {"string": str, "int": int, "bool": bool, "list": list, "ilist": list, "dict": dict}
#: evt.args may be recorded as text or as a dict of NAME: value; evt.type is the event's own `type`
_UNCHECKED = frozenset({"evt.args", "evt.type"})
_FIELD_TYPES: dict[str, tuple[type, str]] = {
    storage_key(name): (_PYTYPE[spec.type], spec.type) for name, spec in FIELD_CATALOG.items()
    if spec.type in _PYTYPE and name not in _UNCHECKED and spec.arg != "required"}
_ITEM_TYPE = {"list": str, "ilist": int}


def _typed(key: str, v: Any, problems: list[str]) -> Any:
    """``v`` as the catalog type of field ``key`` (converted when it is that type written another way); None, with a
    problem noted, when it cannot be read as that type (Falco's <NA>: the field is not supplied for this event)."""
    want = _FIELD_TYPES.get(key)
    if want is None or v is None:
        return v
    pytype, kind = want
    if type(v) is pytype:
        item = _ITEM_TYPE.get(kind)
        if item is None or (isinstance(v, list) and all(type(x) is item for x in v)):
            return v
    conv = _CONVERT[kind](v)
    if conv is _WRONG:
        got = _JSON_NAME.get(type(v), type(v).__name__)
        problems.append(f"field '{key}' must be {_KIND[kind]}, got {got}" + (f" {json.dumps(v)}" if kind in (
            "int", "bool") and type(v) is str and len(v) <= 40 else ""))
        return None
    return conv


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1 and _BYTES_KEY in v:
        try:
            return base64.b64decode(str(v[_BYTES_KEY]), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"bad base64 in {_BYTES_KEY} value") from None
    return v


def event_from_json(obj: Any, problems: list[str] | None = None) -> Event:
    """Validate one decoded JSON value as an Event; raises ValueError with the reason. A field whose value is not its
    catalog type (and not that type written another way, such as a number as a decimal string) is left out, as
    Falco's <NA>, and described in ``problems``; without ``problems`` it raises ValueError."""
    if not isinstance(obj, dict):
        raise ValueError(f"an event must be a JSON object, got {type(obj).__name__}")
    etype = obj.get("type")
    if not isinstance(etype, str) or not etype:
        raise ValueError("'type' must be a non-empty string")
    ts = obj.get("time_ns", 0)
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 1 << 64:
        raise ValueError("'time_ns' must be a non-negative integer below 2^64 (nanoseconds since the epoch)")
    source = obj.get("source", "syscall")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r} (known: {', '.join(sorted(SOURCES))})")
    fields = obj.get("fields", {})
    if not isinstance(fields, dict):
        raise ValueError("'fields' must be a JSON object")
    # interned keys: the rules engine looks fields up by the same (interned) string constants, so lookups hit
    # the identity fast path instead of comparing strings
    decoded = {_intern(k): (_decode_value(v) if type(v) is dict else v) for k, v in fields.items()}
    found: list[str] = []
    for k, v in decoded.items():
        if v is not None and k in _FIELD_TYPES:
            decoded[k] = _typed(k, v, found)
    if found:
        if problems is None:
            raise ValueError(found[0])
        problems.extend(found)
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
            problems: list[str] = []
            try:
                ev = event_from_json(json.loads(text.decode("utf-8")), None if strict else problems)
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
                    if problems:
                        stats.note_fields(label, n, problems)
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

