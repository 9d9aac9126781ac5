"""The enrich stage: a decoded sensor event (:class:`RawEvent`) -> an :class:`Event` with every field rules read.

The sensor's own ``evt.*``/``fd.*`` fields (:func:`containerguard.runtime.sensor.fields.event_fields`) are joined
with the process table's ``proc.*`` fields, the container table's ``container.*`` fields and the user name, as
the field catalog's producer column says. The enricher also keeps the process table current (exec, exit) and
records written paths for drift detection, also for events no rule wants.
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from containerguard.model import Event
from containerguard.runtime.containers import HOST_FIELDS, ContainerInfo, ContainerTable
from containerguard.runtime.dns import DomainNames
from containerguard.runtime.imagefiles import ImageFiles
from containerguard.runtime.process import Proc, ProcessTable, UserNames
from containerguard.runtime.sensor.args import falco_args
from containerguard.runtime.sensor.fields import SockInfo, event_fields, exec_info, parse_env, sock_fields
from containerguard.runtime.sensor.parse import RawEvent

_EXEC_TYPES = frozenset({"execve", "execveat"})
_OPENS = frozenset({"open", "openat", "openat2", "creat"})
_ACCEPTS = frozenset({"accept", "accept4"})
EINPROGRESS_ERR = 115
#: multi-call binaries whose applet name rules see as proc.name
MULTICALL_BINARIES = frozenset({"busybox", "toybox", "busybox.static", "busybox-static"})


def _proc_environ(pid: int) -> dict[str, str] | None:
    """The whole environment from /proc/PID/environ (when the kernel read was cut and the process still lives)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return None
    return parse_env(data.decode("utf-8", "replace").split("\x00"))


def _sock_name(s: SockInfo, server: bool | None) -> str | None:
    if s.mode != 12 or s.family not in (2, 10):
        return None
    f: dict[str, Any] = {}
    sock_fields(f, s, server=server)
    return f.get("fd.name")


class SocketRoles:
    """Which end of a TCP/UDP connection a socket is, remembered from the connect and accept events the agent saw
    (by the connection's address 4-tuple, bounded), for events that only carry the socket (dup2 onto stdio, a
    shell's stdin at exec): an outbound connection on a shell's stdio is a reverse shell, an accepted one is an
    inetd-style server."""

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._seen: collections.OrderedDict[tuple[str, int, str, int], bool] = collections.OrderedDict()

    def note(self, f: dict[str, Any], server: bool) -> None:
        """Remember the connection of a connect (client end) or accept (server end) event."""
        key = (f.get("fd.lip"), f.get("fd.lport"), f.get("fd.rip"), f.get("fd.rport"))
        if None in key or not key[3]:
            return
        self._seen[key] = server  # type: ignore[index]
        if len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def __call__(self, si: SockInfo) -> bool | None:
        """True: the server end; False: the client end; None: not seen."""
        return self._seen.get((si.lip, si.lport, si.rip, si.rport))


@dataclass
class Sequence:
    """The agent's event counter: ``evt.num`` of the next event, shared by every event source."""

    value: int = 0

    def next(self) -> int:
        """Count one event and return its number."""
        self.value += 1
        return self.value


class Enricher:
    """Joins sensor events with the process, container and user tables (one instance per agent)."""

    def __init__(self, processes: ProcessTable, users: UserNames, hostname: str, sequence: Sequence) -> None:
        self.processes = processes
        self.users = users
        self.hostname = hostname
        self.sequence = sequence
        self.containers: ContainerTable | None = None  # set when the agent connects to the Engine
        #: the images' layer contents, for zero-drift (set by the agent when it has a way to read them)
        self.image_files: ImageFiles | None = None
        self.mono_offset = 0  # kernel monotonic clock -> epoch nanoseconds
        self.roles = SocketRoles()
        #: fill evt.args (all arguments as text) only when a rule reads it
        self.want_args = False
        #: fill fd.sip.name & co. (runtime/dns.py) only when a rule reads them
        self.want_dns = False
        self.dns: DomainNames | None = None
        self._cfields: dict[str, tuple[ContainerInfo, dict[str, Any]]] = {}

    def enrich(self, raw: RawEvent, build: bool) -> Event | None:
        """Update the tables from ``raw``; return its Event when ``build`` (a rule or the recorder wants it).

        A process exit nobody wants only leaves the process table: no container, /proc or field look-ups.
        Call :meth:`done` after the event went through the pipeline.
        """
        if raw.type == "procexit" and not build:
            return None
        is_exec = raw.type in _EXEC_TYPES
        info = self.containers.for_event(raw.mntns, raw.pid, fresh=is_exec) if self.containers is not None else None
        cid = info.short_id if info is not None else "host"
        table = self.processes
        if is_exec:
            p = self._exec(raw, info, cid)
        else:
            p = table.get(raw.pid, ppid=raw.ppid, comm=raw.comm, container_id=cid)
        ef, written = event_fields(raw, p.cwd, lambda fd, name: table.fd_path(p, fd, name), self.roles)
        self._track(raw, p, cid, ef, written)
        if not build:
            return None
        ts = raw.ts + self.mono_offset
        fields = table.fields(p)
        fields.update(ef)
        fields.update(self.container_fields(info))
        if not is_exec:
            fields["proc.name"] = raw.comm
        fields["user.uid"] = raw.uid
        fields["group.gid"] = raw.gid
        fields["user.name"] = self.users.name(raw.pid, raw.uid, cid)
        fields["group.name"] = self.users.group(raw.pid, raw.gid, cid)
        fields["user.loginname"] = self.users.name(raw.pid, p.loginuid, cid)
        fields["evt.rawtime"] = ts
        if p.start_ns:
            fields["proc.duration"] = ts - p.start_ns
        if self.want_dns and self.dns is not None and ("fd.sip" in ef or "fd.cip" in ef or "fd.rip" in ef):
            self.dns.fill(fields, info.extra_hosts if info is not None else ())
        if self.want_args:
            fields["evt.args"] = falco_args(raw, fields)
        fields["evt.hostname"] = self.hostname
        fields["evt.num"] = self.sequence.next()
        return Event(type=raw.type, time_ns=ts, fields=fields)

    def done(self, raw: RawEvent) -> None:
        """After the pipeline: a process exit leaves the process table."""
        if raw.type == "procexit":
            self.processes.exit(raw.pid)

    def _track(self, raw: RawEvent, p: Proc, cid: str, ef: dict[str, Any], written: str | None) -> None:
        """Keep the side tables current: socket roles, written paths (drift), open file descriptors."""
        t = raw.type
        if (t == "connect" and raw.res in (0, -EINPROGRESS_ERR)) or (t in _ACCEPTS and raw.res >= 0):
            self.roles.note(ef, server=t != "connect")
        if written is not None and raw.res >= 0:
            self.processes.note_written(cid, written)
        if raw.res >= 0 and t in _OPENS:
            self.processes.note_fd(p, raw.res, ef["fd.name"])

    def _exec(self, raw: RawEvent, info: ContainerInfo | None, cid: str) -> Proc:
        """Record an exec in the process table from what the kernel captured (exe identity, env, stdio)."""
        x = exec_info(raw)
        exepath, comm = _exe_and_comm(raw, x.execfn, x.exe_name, x.from_memfd, x.argv)
        if not x.from_memfd and not exepath.startswith("/") and x.execfn.startswith(("/dev/fd/", "/proc/")):
            exepath = self._exe_through_link(raw.pid, x.execfn, x.exe_name) or exepath
        args = x.argv
        if x.exe_name in MULTICALL_BINARIES and args:
            # busybox/toybox: `nc` -> busybox runs applet nc (comm is already nc); `busybox nc ...` names the
            # applet in argv[1]: rules asking for proc.name see the applet, as for a symlinked applet
            first = args[0].rpartition("/")[2]
            if first in MULTICALL_BINARIES and len(args) > 1 and not args[1].startswith("-"):
                comm = args[1].rpartition("/")[2][:15]
                args = args[1:]
        stdio = tuple((s.fd_type, _sock_name(s, self.roles(s))) for s in x.stdio)
        p = self.processes.exec(
            raw.pid, raw.ppid, comm, exepath, args, uid=raw.uid, gid=raw.gid, tty=x.tty, loginuid=x.loginuid,
            ts=raw.ts + self.mono_offset, container_id=cid, upper_dir=info.upper_dir if info is not None else "",
            image_drift=self._image_drift(info), exe_name=x.exe_name, root_pid=info.pid if info is not None else 1,
            exe_ino=x.exe_ino, exe_ctime=x.exe_ctime, exe_mtime=x.exe_mtime, from_memfd=x.from_memfd,
            pgid=x.pgid, sid=x.sid, env=x.env, stdio=stdio)
        if x.env_truncated:  # after the cwd and pid-namespace reads: a short process must not be gone for those
            p.env = _proc_environ(raw.pid) or x.env
        return p

    def _exe_through_link(self, pid: int, execfn: str, exe_name: str) -> str:
        """The file an exec through ``/proc/self/fd/N``, ``/dev/fd/N`` (fexecve) or ``/proc/self/exe`` ran, when the
        process is gone before ``/proc/PID/exe`` could tell: the path the table knows for that descriptor (its open)
        or the executable the process ran before this exec, when its name is the kernel's ``exe_name``; "" when not
        known (the name alone, made absolute against the cwd, would name another file: ``/e`` for ``/tmp/e``)."""
        m = _FD_LINK.fullmatch(execfn) or _EXE_LINK.fullmatch(execfn)
        before = self.processes.procs.get(pid) if m is not None else None
        if m is None or before is None:
            return ""
        fd = m.groupdict().get("fd")
        path = self.processes.fd_path(before, int(fd), exe_name) if fd is not None else before.exepath
        if not path.startswith("/") or (exe_name and path.rpartition("/")[2] != exe_name):
            return ""
        return path

    def _image_drift(self, info: ContainerInfo | None) -> Callable[[str, int], str | None] | None:
        files = self.image_files
        if files is None or info is None:
            return None
        image, upper = info.image_id or info.image, info.upper_dir
        return lambda exepath, pid: files.drift(image, exepath, pid, upper)

    def container_fields(self, info: ContainerInfo | None) -> dict[str, Any]:
        """The ``container.*`` fields of a container (``host`` values outside containers), cached per container."""
        if info is None:
            return HOST_FIELDS
        cached = self._cfields.get(info.id)
        if cached is None or cached[0] is not info:
            if len(self._cfields) > 4096:
                self._cfields.clear()
            cached = self._cfields[info.id] = (info, info.fields())
        return cached[1]


#: an exec of a descriptor or of the process's own executable (a pid other than self would be the container's pid
#: namespace's, not the agent's: not followed)
_FD_LINK = re.compile(r"/(?:proc/(?:self|thread-self)|dev)/fd/(?P<fd>\d+)")
_EXE_LINK = re.compile(r"/proc/(?:self|thread-self)/exe")


def _exe_and_comm(raw: RawEvent, execfn: str, exe_name: str, from_memfd: bool, argv: list[str]) -> tuple[str, str]:
    """The executable path and process name of an exec: memfd:NAME from the kernel, fexecve and busybox's
    /proc/self/exe resolved through /proc, comm taken from argv[0] when it is "exe" or an fd number."""
    exepath = execfn
    comm = raw.comm
    if from_memfd:
        exepath = exe_name  # memfd:NAME, from the kernel: right even when the process is already gone
    elif exepath.startswith(("/dev/fd/", "/proc/")) or not exepath:
        try:
            target = os.readlink(f"/proc/{raw.pid}/exe").removesuffix(" (deleted)")
        except OSError:
            target = ""
        exepath = target or exe_name
    if argv and (comm == "exe" or comm.isdigit()):  # comm is the basename of /proc/self/exe or fd/N
        comm = argv[0].rpartition("/")[2][:15] or comm
    return exepath, comm
