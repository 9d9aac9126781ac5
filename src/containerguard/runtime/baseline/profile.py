"""A workload's learned behaviour (:class:`Profile`) and how events become baseline entries.

Entries are small strings, one set per kind, so membership is one hash lookup per event:

* ``process``: ``EXE|USER|PARENT_EXE|ARGV_SHAPE``; EXE and PARENT_EXE are the executables with their symbolic
  links resolved (``proc.exe_resolved``: ``/bin/sh`` is ``/usr/bin/dash``, ``/bin/date`` is ``/usr/bin/date``
  under usrmerge), so one program is one entry however it was started and whether the agent saw it start or
  found it after a restart; a parent outside the container (runc, crun, a containerd shim, conmon: which one a
  ``docker exec``'d process has depends on timing) is ``<runtime>``; the argument vector generalised (numbers,
  hex ids, UUIDs and temporary names become ``<N>``, ``<HEX>``, ``<ID>``; an argument is cut at 96 characters),
  so a periodic job with changing arguments is one entry;
* ``file``: the directory a file was written in (normalised: ``/var/log/../../tmp`` is ``/tmp``), generalised the
  same way (``/var/log/app``, ``/tmp/<ID>``); a written directory also covers its subdirectories when it is two to 32
  levels deep;
* ``network``: ``out TCP-PEER/CIDR:PORT`` for outbound connections (IPv4 peers as /24, IPv6 as /64, an
  IPv4-mapped IPv6 peer as its IPv4 address, loopback, unspecified and link-local addresses exact), ``in CIDR``
  for accepted clients, ``listen PORT`` for bound ports; a wider network in a baseline (written by hand:
  ``out 10.0.0.0/8:443``, ``in 0.0.0.0/0``) covers every peer inside it;
* ``syscall``: the event type.
"""

from __future__ import annotations

import functools
import ipaddress
import posixpath
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
_MAX_COVER_DEPTH = 32  # a known directory this deep or less covers its subdirectories
_MAX_TOKEN = 96  # characters of one argument kept in its shape (a script passed with -c, a blob)
#: the container runtime's processes: the parent of a container's first process and of ``docker exec``'d ones (which
#: of them depends on timing: runc's init process is reparented to the shim when runc exits first)
_RUNTIME = re.compile(r"^(runc|crun|youki|runsc|conmon|docker-runc|docker-containerd-shim|containerd-shim.*|"
                      r"runc:\[.*|memfd:runc_cloned.*)$")
RUNTIME_PARENT = "<runtime>"
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


def _shape(args: str) -> str:
    parts = args.split(None, _MAX_ARGS)
    shape = [generalise_token(p if len(p) <= _MAX_TOKEN else p[:_MAX_TOKEN]) + ("..." if len(p) > _MAX_TOKEN else "")
             for p in parts[:_MAX_ARGS]]
    if len(parts) > _MAX_ARGS:
        shape.append("...")
    return " ".join(shape)


@functools.lru_cache(maxsize=16384)
def _shape_cached(args: str) -> str:
    return _shape(args)


def argv_shape(args: str) -> str:
    """The shape of a process's arguments (``proc.args``): each generalised and cut at 96 characters (then
    ``...``), at most 8, then ``...``. Linear in the first arguments whatever the length of the vector."""
    return _shape_cached(args) if len(args) <= 1024 else _shape(args)  # long vectors are not kept in the cache


@functools.lru_cache(maxsize=16384)
def dir_prefix(path: str) -> str:
    """The generalised directory of a written file (``/var/log/app/x.log`` -> ``/var/log/app``), normalised first
    (``/var/log/../../tmp/x`` is written in ``/tmp``, ``//a//b`` in ``/a``)."""
    d = posixpath.normpath(path.rpartition("/")[0] or "/")
    if d in ("/", "//", "."):
        return "/"
    return "/" + "/".join(generalise_token(c) for c in d.strip("/").split("/") if c)


@functools.lru_cache(maxsize=16384)
def peer_net(addr: str) -> str:
    """An IP address generalised to its network: IPv4 /24, IPv6 /64; an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``,
    a dual-stack socket's IPv4 peer) as its IPv4 address; loopback, unspecified, link-local and unparsable exact
    (an IPv6 zone such as ``%eth0`` dropped: it names a local interface, not the peer)."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(addr.partition("%")[0])
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local:
        return str(ip)
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def entries_of(event_type: str, f: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (kind, entry) pairs an event contributes to a baseline (besides its syscall), as text YAML can hold
    (a lone surrogate from a recording is written as ``\\udcff``: an export always imports back)."""
    return [(k, storable(e)) for k, e in _entries(event_type, f)]


def storable(text: str) -> str:
    """``text`` as the store and YAML can hold it: a lone surrogate (undecodable bytes from a recording or
    ``os.readlink``) is written ``\\udcff``."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _entries(event_type: str, f: Mapping[str, Any]) -> list[tuple[str, str]]:
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
    # an address or port the event does not carry (a recording, AF_UNSPEC) is no peer to learn
    if event_type == "connect":
        net, port = _net(f.get("fd.sip")), _port(f.get("fd.sport"))
        return [("network", f"out {net}:{port}")] if net and port is not None else []
    if event_type in ("accept", "accept4"):
        net = _net(f.get("fd.cip"))
        return [("network", f"in {net}")] if net else []
    if event_type == "bind":
        port = _port(f.get("fd.lport"))
        return [("network", f"listen {port}")] if port is not None else []
    return []


def _net(addr: Any) -> str:
    net = peer_net(addr) if isinstance(addr, str) else ""
    return "" if net == addr and not _is_ip(addr) else net


def _is_ip(addr: str) -> bool:
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def _port(value: Any) -> int | None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port < 65536 else None


def process_entry(f: Mapping[str, Any]) -> str:
    """``EXE|USER|PARENT_EXE|ARGV_SHAPE`` for an exec event, with EXE and PARENT_EXE resolved (module docstring)."""
    exe = str(f.get("proc.exe_resolved") or f.get("proc.exepath") or f.get("proc.exe") or "")
    parent = str(f.get("proc.pexe_resolved") or f.get("proc.pexepath") or f.get("proc.pname") or "")
    return _process(exe, f, parent)


def legacy_process_entry(f: Mapping[str, Any]) -> str:
    """The entry an agent before resolved executables learned for the same exec (the path it was started by, the
    parent as the process table had it), so that baselines learned then stay valid."""
    return _process(str(f.get("proc.exepath") or f.get("proc.exe") or ""), f,
                    str(f.get("proc.pexepath") or f.get("proc.pname") or ""), runtime=False)


def _process(exe: str, f: Mapping[str, Any], parent: str, *, runtime: bool = True) -> str:
    user = str(f.get("user.name") or f.get("user.uid", ""))
    if runtime and (_RUNTIME.match(parent) or _RUNTIME.match(parent.rpartition("/")[2])):
        parent = RUNTIME_PARENT
    return f"{_one_field(exe)}|{user}|{_one_field(parent)}|{argv_shape(str(f.get('proc.args') or ''))}"


def _one_field(value: str) -> str:
    """A path as one ``|``-separated field of a process entry."""
    return value.replace("|", "%7C") if "|" in value else value


def covered(kind: str, entry: str, known: set[str]) -> bool:
    """Whether ``entry`` is in the baseline: exact, or (files) under a known directory two levels deep or more, or
    (peers) inside a wider network the baseline holds for the same direction and port."""
    if entry in known:
        return True
    if kind == "file":  # its parents from two levels down, at most _MAX_COVER_DEPTH: linear in the path's length
        cuts: list[int] = []
        i = entry.find("/", 1)
        while i > 0 and len(cuts) < _MAX_COVER_DEPTH:
            cuts.append(i)
            i = entry.find("/", i + 1)
        return any(entry[:c] in known for c in reversed(cuts[1:]))
    if kind == "network":
        return any(wider in known for wider in _wider_networks(entry))
    return False


def _wider_networks(entry: str) -> Iterable[str]:
    """The entries naming a network wider than ``entry``'s peer, same direction and port, narrowest first: for
    ``out 10.1.2.0/24:443``, ``out 10.1.2.0/23:443`` ... ``out 0.0.0.0/0:443``. A learned peer is a /24 (IPv6 /64)
    or an exact address, but a baseline written or edited by hand may allow ``out 10.0.0.0/8:443`` or
    ``in 0.0.0.0/0``, and means every peer inside it. Walked on the slow path only (a peer not known exactly), at
    most 128 look-ups."""
    direction, _, rest = entry.partition(" ")
    if direction == "out":
        addr, _, port = rest.rpartition(":")
        suffix = f":{port}"
    elif direction == "in":
        addr, suffix = rest, ""
    else:
        return
    try:
        net = ipaddress.ip_network(addr, strict=False)
    except ValueError:
        return
    base, bits, make = int(net.network_address), net.max_prefixlen, type(net.network_address)
    for prefix in range(net.prefixlen - 1, -1, -1):
        mask = ((1 << prefix) - 1) << (bits - prefix)
        yield f"{direction} {make(base & mask)}/{prefix}{suffix}"


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

    def rebased(self, before: Profile, onto: Profile) -> Profile:
        """This profile as an edit of ``before``, applied to ``onto`` (the stored baseline, which the agent may
        have changed while the edit was made): the fields the edit changed take its values, the entries it added
        or removed are added to or removed from ``onto``'s, and everything else (what the agent learned
        meanwhile, a mode set meanwhile) stays as ``onto`` has it."""
        out = Profile.from_doc(onto.to_doc(), onto.version)
        for name in ("image", "image_id", "name_pattern", "mode", "locked", "created_ns", "last_change_ns"):
            if getattr(self, name) != getattr(before, name):
                setattr(out, name, getattr(self, name))
        for kind in KINDS:
            mine, base = self.entries.get(kind, set()), before.entries.get(kind, set())
            out.entries[kind] = (out.entries.get(kind, set()) - (base - mine)) | (mine - base)
        out.deviations = (out.deviations - (before.deviations - self.deviations)) | (self.deviations - before.deviations)
        return out

