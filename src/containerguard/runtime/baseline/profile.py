"""A workload's learned behaviour (:class:`Profile`) and how events become baseline entries.

Entries are small strings, one set per kind, so membership is one hash lookup per event:

* ``process``: ``EXE|USER|PARENT_EXE|ARGV_SHAPE``; the argument vector generalised (numbers, hex ids, UUIDs and
  temporary names become ``<N>``, ``<HEX>``, ``<ID>``), so a periodic job with changing arguments is one entry;
* ``file``: the directory a file was written in, generalised the same way (``/var/log/app``,
  ``/tmp/<ID>``); a written directory also covers its subdirectories when it is at least two levels deep;
* ``network``: ``out TCP-PEER/CIDR:PORT`` for outbound connections (IPv4 peers as /24, IPv6 as /64, loopback
  exact), ``in CIDR`` for accepted clients, ``listen PORT`` for bound ports;
* ``syscall``: the event type.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("process", "file", "network", "syscall")
MODES = ("learn", "monitor", "protect")

_NUM = re.compile(r"^[+-]?\d+(\.\d+)?$")
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]{8,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TMPNAME = re.compile(r"^(tmp|temp)[._-]?[A-Za-z0-9_]{4,}$|^[A-Za-z0-9]{6,}\.(tmp|temp)$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"([-_.:,=])")
_MAX_ARGS = 8
_EINPROGRESS = -115
_OPEN_TYPES = frozenset({"open", "openat", "openat2", "creat"})
_EXEC_TYPES = frozenset({"execve", "execveat"})


def _part(tok: str) -> str:
    if _NUM.match(tok):
        return "<N>"
    if _HEX.match(tok):
        return "<HEX>"
    if _UUID.match(tok) or _TMPNAME.match(tok):
        return "<ID>"
    return _DIGITS.sub("<N>", tok)


@functools.lru_cache(maxsize=16384)
def generalise_token(tok: str) -> str:
    """One argument or path component with its variable parts replaced: numbers, hex ids, UUIDs and temporary
    names (whole, or as a part between ``-_.:,=``: ``job-3f2a9c0e1b7d``), and digit runs inside a word
    (``part17``) as ``<N>``."""
    whole = _part(tok) if (_UUID.match(tok) or _TMPNAME.match(tok)) else None
    if whole is not None:
        return whole
    return "".join(p if i % 2 else _part(p) for i, p in enumerate(_SEPARATORS.split(tok)) if p or i % 2)


@functools.lru_cache(maxsize=16384)
def argv_shape(args: str) -> str:
    """The shape of a process's arguments (``proc.args``): each generalised, at most 8, then ``...``."""
    parts = args.split()
    shape = [generalise_token(p) for p in parts[:_MAX_ARGS]]
    if len(parts) > _MAX_ARGS:
        shape.append("...")
    return " ".join(shape)


@functools.lru_cache(maxsize=16384)
def dir_prefix(path: str) -> str:
    """The generalised directory of a written file (``/var/log/app/x.log`` -> ``/var/log/app``)."""
    d = path.rpartition("/")[0] or "/"
    if d == "/":
        return "/"
    return "/" + "/".join(generalise_token(c) for c in d.strip("/").split("/") if c)


@functools.lru_cache(maxsize=16384)
def peer_net(addr: str) -> str:
    """An IP address generalised to its network: IPv4 /24, IPv6 /64, loopback and unparsable exact."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if ip.is_loopback:
        return str(ip)
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def entries_of(event_type: str, f: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (kind, entry) pairs an event contributes to a baseline (besides its syscall)."""
    if event_type in _EXEC_TYPES:
        return [("process", process_entry(f))]
    if event_type in _OPEN_TYPES:
        if f.get("evt.is_open_write") or f.get("evt.is_open_create"):
            name = f.get("fd.name")
            if isinstance(name, str) and name.startswith("/") and not f.get("evt.failed"):
                return [("file", dir_prefix(name))]
        return []
    if f.get("fd.typechar") not in ("4", "6"):
        return []
    if f.get("evt.failed") and not (event_type == "connect" and f.get("evt.rawres") == _EINPROGRESS):
        return []  # a failed call is no behaviour; a non-blocking connect in progress is
    if event_type == "connect":
        return [("network", f"out {peer_net(str(f.get('fd.sip', '')))}:{f.get('fd.sport', '')}")]
    if event_type in ("accept", "accept4"):
        return [("network", f"in {peer_net(str(f.get('fd.cip', '')))}")]
    if event_type == "bind":
        return [("network", f"listen {f.get('fd.lport', '')}")]
    return []


def process_entry(f: Mapping[str, Any]) -> str:
    """``EXE|USER|PARENT_EXE|ARGV_SHAPE`` for an exec event."""
    exe = str(f.get("proc.exepath") or f.get("proc.exe") or "")
    user = str(f.get("user.name") or f.get("user.uid", ""))
    parent = str(f.get("proc.pexepath") or f.get("proc.pname") or "")
    return f"{exe}|{user}|{parent}|{argv_shape(str(f.get('proc.args') or ''))}"


def covered(kind: str, entry: str, known: set[str]) -> bool:
    """Whether ``entry`` is in the baseline: exact, or (files) under a known directory two levels deep or more."""
    if entry in known:
        return True
    if kind == "file":
        d = entry
        while d.count("/") > 2:
            d = d.rpartition("/")[0]
            if d in known:
                return True
    return False


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def nearest(entry: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The baseline entries most like ``entry`` (longest common prefix, then shortest), for the alert."""
    ranked = sorted(known, key=lambda k: (-_common_prefix(entry, k), len(k), k))
    return ranked[:limit]


@dataclass
class Profile:
    """One workload's baseline: its identity, mode and learned entries (mutable; the detector owns it)."""

    key: str
    image: str = ""
    image_id: str = ""
    name_pattern: str = ""
    mode: str = "learn"
    locked: bool = False
    created_ns: int = 0
    #: when the last new behaviour was learned (the quiet period counts from here)
    last_change_ns: int = 0
    entries: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    #: what was alerted on in monitor/protect mode (not part of the baseline; alerted once)
    deviations: set[str] = field(default_factory=set)
    version: int = 0

    def size(self) -> int:
        """How many entries the baseline holds."""
        return sum(len(v) for v in self.entries.values())

    def to_doc(self) -> dict[str, Any]:
        """The JSON/YAML document (sorted, so exports diff cleanly)."""
        return {"workload": self.key, "image": self.image, "image_id": self.image_id,
                "name_pattern": self.name_pattern, "mode": self.mode, "locked": self.locked,
                "created_ns": self.created_ns, "last_change_ns": self.last_change_ns,
                **{k: sorted(self.entries.get(k, ())) for k in KINDS},
                "deviations": sorted(self.deviations)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], version: int = 0) -> Profile:
        """A profile from :meth:`to_doc` output (already validated)."""
        return cls(key=str(doc["workload"]), image=str(doc.get("image", "")), image_id=str(doc.get("image_id", "")),
                   name_pattern=str(doc.get("name_pattern", "")), mode=str(doc.get("mode", "learn")),
                   locked=bool(doc.get("locked", False)), created_ns=int(doc.get("created_ns", 0)),
                   last_change_ns=int(doc.get("last_change_ns", 0)),
                   entries={k: set(doc.get(k, ())) for k in KINDS}, deviations=set(doc.get("deviations", ())),
                   version=version)
