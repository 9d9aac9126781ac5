"""Parse the sensor's output lines into :class:`RawEvent` s, defensively.

A line is ``TYPE\\tnsecs\\tpid\\ttid\\tppid\\tuid\\tgid\\tmntns\\tcapeff\\tcapprm\\tcomm\\tres\\t<specific...>``; some types are
followed by ``more\\tTID\\tVALUE`` continuation lines (strings that would not fit in one printf under the
BPF stack limit). Anything else is garbage: counted, never raised. ``Lost N events`` lines (bpftrace's
own report of perf-buffer overruns) are counted as dropped events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from containerguard.runtime.sensor.script import MORE_LINES, SOCKADDR_CALLS, SYSCALLS

HEAD_FIELDS = 12  # type + the eleven common fields
#: types whose last field is a string printed as is (a path): a tab in it is the path's, not a separator
TRAILING_STRING = frozenset(name for name, sc in SYSCALLS.items() if sc.fmt.endswith("%s"))

#: number of type-specific fields after the head, per event type
SPECIFIC_FIELDS: dict[str, int] = {
    "execve": 12, "execveat": 12, "procexit": 0,
    **{name: sc.fmt.count("%") for name, sc in SYSCALLS.items()},
    **{name: 4 for name in SOCKADDR_CALLS},
}

_LOST = re.compile(r"Lost (\d+) events")
_HEX = re.compile(r"\\x([0-9a-fA-F]{2})")
_HEXB = re.compile(rb"\\x([0-9a-fA-F]{2})")
MAX_LINE = 16384
MAX_PENDING = 4096


@dataclass(slots=True)
class RawEvent:
    """One syscall as the sensor printed it (before process and container enrichment)."""

    type: str
    ts: int  # CLOCK_MONOTONIC ns
    pid: int
    tid: int
    ppid: int
    uid: int
    gid: int
    mntns: int
    cap_effective: int  # capability bit masks of the calling thread
    cap_permitted: int
    comm: str
    res: int
    args: list[str]
    more: list[str] = field(default_factory=list)


def decode_buf(text: str) -> list[str]:
    """bpftrace's ``%r`` rendering of the NUL-separated argument block -> the argument list."""
    if "\\" in text:
        raw = _HEX.sub(lambda m: chr(int(m.group(1), 16)), text.replace("\\\\", "\\x5c"))
    else:
        raw = text
    parts = raw.split("\x00")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def decode_bytes(text: str) -> bytes:
    """bpftrace's ``%r`` rendering of a data buffer (printable ASCII as is, other bytes as ``\\xNN``) -> the bytes."""
    raw = text.encode("latin-1", "replace")
    if b"\\x" not in raw:
        return raw
    return _HEXB.sub(lambda m: bytes((int(m.group(1), 16),)), raw)


def decode_comm(text: str) -> str:
    """The head's comm (``%r`` of the 16-byte kernel buffer, NUL padded) -> the name (UTF-8, as the text once was)."""
    i = text.find("\\")
    if i < 0:
        return text
    if text.startswith("\\x00", i):  # the first escape is the padding: the name itself has none
        return text[:i]
    parts = decode_buf(text)
    return parts[0].encode("latin-1", "replace").decode("utf-8", "replace") if parts else ""


@dataclass(slots=True)
class LineParser:
    """Turns lines into events; keeps counters of garbage and drops."""

    parse_errors: int = 0
    lost: int = 0
    lines: int = 0
    ready: bool = False
    _pending: dict[int, RawEvent] = field(default_factory=dict)

    def feed(self, line: str) -> RawEvent | None:
        """One output line; returns a completed event or None (incomplete, noise or garbage)."""
        self.lines += 1
        if len(line) > MAX_LINE:
            self.parse_errors += 1
            return None
        line = line.removesuffix("\n")  # only the record's own end: a name may end in one
        parts = line.split("\t")
        kind = parts[0]
        if kind == "more":
            return self._more(parts)
        want = SPECIFIC_FIELDS.get(kind)
        if want is not None and len(parts) > HEAD_FIELDS + want and kind in TRAILING_STRING:
            parts = line.split("\t", HEAD_FIELDS + want - 1)
        if want is None or len(parts) != HEAD_FIELDS + want:
            self._noise(line)
            return None
        try:
            ev = RawEvent(kind, int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), int(parts[5]),
                          int(parts[6]), int(parts[7]), int(parts[8], 16), int(parts[9], 16), decode_comm(parts[10]),
                          int(parts[11]), parts[12:])
        except ValueError:
            self.parse_errors += 1
            return None
        if kind in MORE_LINES:
            old = self._pending.pop(ev.tid, None)
            if old is not None:  # its continuation was lost: a counted error, the new event wins
                self.parse_errors += 1
            if len(self._pending) >= MAX_PENDING:
                self._pending.clear()
                self.parse_errors += 1
            self._pending[ev.tid] = ev
            return None
        return ev

    def _more(self, parts: list[str]) -> RawEvent | None:
        parts = [*parts[:2], "\t".join(parts[2:])] if len(parts) > 3 else parts  # a tab in the value is its own
        if len(parts) != 3:
            self.parse_errors += 1
            return None
        try:
            tid = int(parts[1])
        except ValueError:
            self.parse_errors += 1
            return None
        ev = self._pending.get(tid)
        if ev is None:
            self.parse_errors += 1
            return None
        ev.more.append(parts[2])
        if len(ev.more) >= MORE_LINES[ev.type]:
            del self._pending[tid]
            return ev
        return None

    def _noise(self, line: str) -> None:
        if line == "ready":
            self.ready = True
            return
        if line.startswith("Attaching ") or not line.strip():
            return
        m = _LOST.search(line)
        if m:
            self.lost += int(m.group(1))
            return
        self.parse_errors += 1

    def stderr_line(self, line: str) -> str | None:
        """A line from bpftrace's stderr: counts drops; returns the text if it is a real error."""
        m = _LOST.search(line)
        if m:
            self.lost += int(m.group(1))
            return None
        if "RLIMIT_MEMLOCK" in line or "Addrspace mismatch" in line or not line.strip():
            return None
        return line.rstrip()
