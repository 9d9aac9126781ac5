"""The enrich stage: a decoded sensor event (:class:`RawEvent`) -> an :class:`Event` with every field rules read.

The sensor's own ``evt.*``/``fd.*`` fields (:func:`containerguard.runtime.sensor.fields.event_fields`) are joined
with the process table's ``proc.*`` fields, the container table's ``container.*`` fields and the user name, as
the field catalog's producer column says. The enricher also keeps the process table current (exec, exit) and
records written paths for drift detection, also for events no rule wants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from containerguard.model import Event
from containerguard.runtime.containers import HOST_FIELDS, ContainerInfo, ContainerTable
from containerguard.runtime.process import Proc, ProcessTable, UserNames
from containerguard.runtime.sensor.fields import event_fields, exec_argv
from containerguard.runtime.sensor.parse import RawEvent

_EXEC_TYPES = frozenset({"execve", "execveat"})


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
        self.mono_offset = 0  # kernel monotonic clock -> epoch nanoseconds
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
        if is_exec:
            p = self._exec(raw, info, cid)
        else:
            p = self.processes.get(raw.pid, ppid=raw.ppid, comm=raw.comm, container_id=cid)
        ef, written = event_fields(raw, p.cwd)
        if written is not None and raw.res >= 0:
            self.processes.note_written(cid, written)
        if not build:
            return None
        ts = raw.ts + self.mono_offset
        fields = self.processes.fields(p)
        fields.update(ef)
        fields.update(self.container_fields(info))
        if not is_exec:
            fields["proc.name"] = raw.comm
        fields["user.uid"] = raw.uid
        fields["group.gid"] = raw.gid
        fields["user.name"] = self.users.name(raw.pid, raw.uid, cid)
        fields["evt.rawtime"] = ts
        fields["evt.hostname"] = self.hostname
        fields["evt.num"] = self.sequence.next()
        return Event(type=raw.type, time_ns=ts, fields=fields)

    def done(self, raw: RawEvent) -> None:
        """After the pipeline: a process exit leaves the process table."""
        if raw.type == "procexit":
            self.processes.exit(raw.pid)

    def _exec(self, raw: RawEvent, info: ContainerInfo | None, cid: str) -> Proc:
        exepath = raw.args[2]
        argv = exec_argv(raw)
        comm = raw.comm
        if exepath.startswith(("/dev/fd/", "/proc/")) or not exepath:
            exepath, comm = _resolve_exe(raw.pid, exepath, argv, comm)
        return self.processes.exec(raw.pid, raw.ppid, comm, exepath, argv, uid=raw.uid, gid=raw.gid,
                                   tty=int(raw.args[1]), loginuid=int(raw.args[0]), ts=raw.ts, container_id=cid,
                                   upper_dir=info.upper_dir if info is not None else "")

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


def _resolve_exe(pid: int, exepath: str, argv: list[str], comm: str) -> tuple[str, str]:
    """fexecve, memfd, or busybox running an applet through /proc/self/exe (comm "exe"): the real executable."""
    try:
        target = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        target = ""
    if target.startswith("/memfd:"):
        exepath = "memfd:" + target[len("/memfd:"):].removesuffix(" (deleted)")
    elif target:
        exepath = target.removesuffix(" (deleted)")
    if argv and (comm == "exe" or comm.isdigit()):  # comm is the basename of /proc/self/exe or fd/N
        comm = argv[0].rpartition("/")[2][:15] or comm
    return exepath, comm
