"""The agent's process table: pid -> what rules need to know about a process and its ancestors.

Seeded from ``/proc`` at start, updated from exec events, cleaned on exit. A pid the table has never
seen (a fork that did not exec, or events that raced the exec line across CPUs) is loaded lazily from
``/proc/<pid>`` while it still exists, else built from the event itself.

Drift: every successful open for write/create, rename target and link made by a process in a
container records the path under that container; an exec of such a path sets ``proc.is_exe_written``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_ANCESTORS = 8
MAX_PROCS = 65536
MAX_WRITTEN_PER_CONTAINER = 8192


@dataclass(slots=True)
class Proc:
    """One process as the process table knows it."""
    pid: int
    ppid: int
    name: str  # comm
    exepath: str = ""
    args: tuple[str, ...] = ()  # argv[1:]
    exe: str = ""  # argv[0]
    cwd: str = ""
    start_ns: int = 0
    uid: int = -1
    gid: int = -1
    tty: int = 0
    loginuid: int = -1
    container_id: str = "host"
    vpid: int = 0  # pid inside the process's own pid namespace (1 for a container's init)
    is_exe_written: bool = False
    is_exe_upper_layer: bool = False

    @property
    def cmdline(self) -> str:
        """Name and arguments joined by spaces (``proc.cmdline``)."""
        return " ".join((self.name, *self.args)) if self.args else self.name


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(65536).decode("utf-8", "replace")
    except OSError:
        return None


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _nspid(status: str) -> int:
    """The innermost pid from the ``NSpid:`` line of /proc/PID/status (0 when absent)."""
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            parts = line.split()
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0
    return 0


def load_proc(pid: int, root: str = "/proc") -> Proc | None:
    """A :class:`Proc` from ``/proc/<pid>`` (None when it is gone)."""
    stat = _read(f"{root}/{pid}/stat")
    if stat is None:
        return None
    try:
        rp = stat.rindex(")")
        name = stat[stat.index("(") + 1:rp]
        rest = stat[rp + 2:].split()
        ppid = int(rest[1])
        tty = int(rest[4])
        start_ticks = int(rest[19])
    except (ValueError, IndexError):
        return None
    cmd = (_read(f"{root}/{pid}/cmdline") or "").split("\x00")
    if cmd and cmd[-1] == "":
        cmd.pop()
    uid = gid = -1
    status = _read(f"{root}/{pid}/status") or ""
    for line in status.splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
        elif line.startswith("Gid:"):
            gid = int(line.split()[1])
    vpid = _nspid(status)
    lu = (_read(f"{root}/{pid}/loginuid") or "").strip()
    loginuid = int(lu) if lu.isdigit() else -1
    if loginuid == 4294967295:
        loginuid = -1
    return Proc(pid=pid, ppid=ppid, name=name, exepath=_readlink(f"{root}/{pid}/exe"),
                args=tuple(cmd[1:]), exe=cmd[0] if cmd else "", cwd=_readlink(f"{root}/{pid}/cwd"),
                start_ns=start_ticks * (1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)),
                uid=uid, gid=gid, tty=tty, loginuid=loginuid, vpid=vpid)


class ProcessTable:
    """pid -> :class:`Proc`, with ancestors and the per-container record of written files."""

    def __init__(self, proc_root: str = "/proc", max_procs: int = MAX_PROCS) -> None:
        self.root = proc_root
        self.max_procs = max_procs
        self.procs: OrderedDict[int, Proc] = OrderedDict()
        self.written: dict[str, OrderedDict[str, None]] = {}
        self._fcache: dict[int, tuple[Proc, Proc | None, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self.procs)

    def seed(self) -> int:
        """Load every process in ``/proc``; returns how many."""
        for entry in os.listdir(self.root):
            if entry.isdigit():
                p = load_proc(int(entry), self.root)
                if p is not None:
                    self._put(p)
        return len(self.procs)

    def _put(self, p: Proc) -> None:
        self.procs[p.pid] = p
        self.procs.move_to_end(p.pid)
        while len(self.procs) > self.max_procs:
            self.procs.popitem(last=False)

    def get(self, pid: int, *, ppid: int = 0, comm: str = "", container_id: str = "host") -> Proc:
        """The process, loading it from /proc or the event (``ppid``, ``comm``) when unknown."""
        p = self.procs.get(pid)
        if p is None:
            p = load_proc(pid, self.root) or Proc(pid=pid, ppid=ppid, name=comm)
            p.container_id = container_id
            self._put(p)
        return p

    def exec(self, pid: int, ppid: int, comm: str, exepath: str, argv: list[str], *, uid: int, gid: int,
             tty: int, loginuid: int, ts: int, container_id: str, upper_dir: str = "") -> Proc:
        """Record a successful exec (the process keeps its pid, takes a new image)."""
        cwd = _readlink(f"{self.root}/{pid}/cwd")
        vpid = _nspid(_read(f"{self.root}/{pid}/status") or "")  # 0: gone already (short-lived), not known
        if exepath and not exepath.startswith(("/", "memfd:")) and cwd:
            exepath = os.path.normpath(os.path.join(cwd, exepath))
        written = self.written.get(container_id)
        p = Proc(pid=pid, ppid=ppid, name=comm, exepath=exepath, args=tuple(argv[1:]),
                 exe=argv[0] if argv else exepath, cwd=cwd, start_ns=ts, uid=uid, gid=gid, tty=tty,
                 loginuid=loginuid, container_id=container_id, vpid=vpid,
                 is_exe_written=bool(written is not None and exepath in written))
        if upper_dir and exepath.startswith("/"):
            p.is_exe_upper_layer = os.path.isfile(upper_dir + exepath)
        self._put(p)
        return p

    def exit(self, pid: int) -> None:
        """Forget an exited process."""
        self.procs.pop(pid, None)
        self._fcache.pop(pid, None)

    def container_gone(self, container_id: str) -> None:
        """Forget what a removed container wrote."""
        self.written.pop(container_id, None)

    def note_written(self, container_id: str, path: str) -> None:
        """Record that a process in ``container_id`` wrote ``path`` (for drift detection)."""
        w = self.written.get(container_id)
        if w is None:
            w = self.written[container_id] = OrderedDict()
        w[path] = None
        w.move_to_end(path)
        if len(w) > MAX_WRITTEN_PER_CONTAINER:
            w.popitem(last=False)

    def ancestors(self, p: Proc, limit: int = MAX_ANCESTORS) -> list[Proc]:
        """The process's ancestors, parent first, up to ``limit`` (loaded from /proc when missing)."""
        out: list[Proc] = []
        seen = {p.pid}
        cur = p
        while len(out) < limit and cur.ppid > 0 and cur.ppid not in seen:
            parent = self.procs.get(cur.ppid)
            if parent is None:
                parent = load_proc(cur.ppid, self.root)
                if parent is None:
                    break
                self._put(parent)
            out.append(parent)
            seen.add(parent.pid)
            cur = parent
        return out

    def fields(self, p: Proc) -> dict[str, Any]:
        """The Falco ``proc.*`` / ``user.*`` fields for an event of this process (a fresh dict).

        Cached per process while neither it nor its parent changed (a new exec makes a new Proc).
        """
        parent_now = self.procs.get(p.ppid)
        hit = self._fcache.get(p.pid)
        if hit is not None and hit[0] is p and hit[1] is parent_now:
            return dict(hit[2])
        f = self._fields(p)
        if len(self._fcache) > self.max_procs:
            self._fcache.clear()
        self._fcache[p.pid] = (p, self.procs.get(p.ppid), f)
        return dict(f)

    def _fields(self, p: Proc) -> dict[str, Any]:
        anc = self.ancestors(p)
        parent = anc[0] if anc else None
        f: dict[str, Any] = {
            "proc.pid": p.pid, "proc.ppid": p.ppid, "proc.name": p.name, "proc.exe": p.exe,
            "proc.exepath": p.exepath, "proc.cmdline": p.cmdline, "proc.args": " ".join(p.args),
            "proc.cwd": p.cwd, "proc.tty": p.tty, "proc.start_ns": p.start_ns,
            "proc.exe_written": p.is_exe_written, "proc.is_exe_upper_layer": p.is_exe_upper_layer,
            "proc.is_exe_from_memfd": p.exepath.startswith("memfd:"),
            "proc.anames": [a.name for a in anc], "proc.apids": [a.pid for a in anc],
            "user.uid": p.uid, "user.loginuid": p.loginuid, "group.gid": p.gid,
        }
        if p.vpid:
            f["proc.vpid"] = p.vpid
        if parent is not None:
            f.update({"proc.pname": parent.name, "proc.pcmdline": parent.cmdline,
                      "proc.pexepath": parent.exepath, "proc.pexe": parent.exe})
        return f


class UserNames:
    """uid -> user name, read from the passwd file the process itself sees (its container's /etc/passwd)."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self.root = proc_root
        self._cache: dict[tuple[str, int], str] = {}

    def name(self, pid: int, uid: int, container_id: str) -> str:
        """The user name of ``uid`` as the process's own /etc/passwd has it ('' when unknown)."""
        key = (container_id, uid)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if uid == 0:
            name = "root"
        else:
            name = ""
            text = _read(f"{self.root}/{pid}/root/etc/passwd") or ""
            for line in text.splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[2] == str(uid):
                    name = parts[0]
                    break
            if not name and text == "":
                return ""  # process gone: do not cache a miss
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[key] = name
        return name
