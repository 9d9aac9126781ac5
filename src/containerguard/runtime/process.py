"""The agent's process table: pid -> what rules need to know about a process and its ancestors.

Seeded from ``/proc`` at start, updated from exec events, cleaned on exit. A pid the table has never
seen (a fork that did not exec, or events that raced the exec line across CPUs) is loaded lazily from
``/proc/<pid>`` while it still exists, else built from the event itself.

Drift: every successful open for write/create, rename target and link made by a process in a
container records the path under that container; an exec of such a path sets ``proc.is_exe_written``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from containerguard.runtime import links

MAX_ANCESTORS = 8
MAX_PROCS = 65536
MAX_WRITTEN_PER_CONTAINER = 8192
MAX_FDS_PER_PROC = 256
MAX_RESOLVED = 8192


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
    #: zero-drift from the image layers: "" the image's own executable, else why not; None: layers not known
    exe_drift: str | None = None
    # captured in the kernel at exec (0 / empty when the process was loaded from /proc or never exec'ed)
    exe_ino: int = 0
    exe_ctime: int = 0
    exe_mtime: int = 0
    from_memfd: bool = False
    pgid: int = 0
    sid: int = 0
    env: dict[str, str] | None = None
    #: (fd.type, fd.name) of fds 0, 1, 2 at exec (None: unknown)
    stdio: tuple[tuple[str | None, str | None], ...] = ()
    #: descriptor -> path, from this process's successful opens (ftruncate/fchmod/*at name files by descriptor)
    fds: dict[int, str] | None = None
    #: the executable with every symbolic link resolved inside the process's root, as the kernel resolved it
    #: (``sh`` -> ``/usr/bin/dash``, ``/bin/date`` -> ``/usr/bin/date`` under usrmerge); "" when not known
    exe_resolved: str = ""

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


#: the container runtime's copy of itself in memory (runc since 1.0: CVE-2019-5736), as the sensor names a memfd
_RUNC_CLONE = re.compile(r"memfd:runc_cloned")


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def exe_link(link: str) -> str:
    """A ``/proc/PID/exe`` link target as an executable path: `` (deleted)`` dropped (a binary upgraded under a
    running process is still that program), a memfd as ``memfd:NAME`` (the sensor's form)."""
    link = link.removesuffix(" (deleted)")
    return link[1:] if link.startswith("/memfd:") else link


def resolve_in_root(root: str, path: str) -> str | None:
    """The absolute ``path`` with every symbolic link followed inside the file system whose root is ``root``
    (``/proc/PID/root``: absolute link targets and ``..`` stay inside it, as for the process itself); None when a
    component is missing, unreadable or the links loop."""

    def link_of(rel: str) -> str | None:
        try:
            return os.readlink(f"{root}/{rel}")
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # there, and not a link
                return None
            raise links.Missing(rel) from None

    out = links.follow(path, link_of)
    return None if out is None else "/" + "/".join(out)


def in_upper_layer(upper_dir: str, path: str) -> bool:
    """Whether the container path ``path`` is a regular file in the upper layer ``upper_dir``: looked at with
    ``lstat``, so a symbolic link there is not followed on the host (its target is a path in the container, and an
    absolute one would name the host's file)."""
    try:
        return stat.S_ISREG(os.lstat(upper_dir + path).st_mode)
    except (OSError, ValueError):
        return False


def _nspid(status: str) -> int:
    """The innermost pid from the ``NSpid:`` line of /proc/PID/status (0 when absent)."""
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            parts = line.split()
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0
    return 0


def _link_type(target: str) -> str | None:
    """fd.type of a /proc/PID/fd/N link target (sockets: unknown family here, so None)."""
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("/"):
        return "file"
    return None


def _boot_epoch_ns() -> int:
    """The wall-clock time of boot (process start times in /proc/PID/stat count from it), in ns since the epoch."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


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
        pgid = int(rest[2])
        sid = int(rest[3])
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
    try:
        st = os.stat(f"{root}/{pid}/exe")
        exe_ino, exe_ctime, exe_mtime = st.st_ino, st.st_ctime_ns, st.st_mtime_ns
    except OSError:
        exe_ino = exe_ctime = exe_mtime = 0
    env_text = _read(f"{root}/{pid}/environ")
    env = None if env_text is None else dict(e.split("=", 1) for e in env_text.split("\x00") if "=" in e)
    stdio = tuple((_link_type(_readlink(f"{root}/{pid}/fd/{i}")), None) for i in range(3))
    exepath = _readlink(f"{root}/{pid}/exe")
    return Proc(pid=pid, ppid=ppid, name=name, exepath=exepath, exe_resolved=exe_link(exepath),
                args=tuple(cmd[1:]), exe=cmd[0] if cmd else "", cwd=_readlink(f"{root}/{pid}/cwd"),
                start_ns=_boot_epoch_ns() + start_ticks * (1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)),
                uid=uid, gid=gid, tty=tty, loginuid=loginuid, vpid=vpid, pgid=pgid, sid=sid, exe_ino=exe_ino,
                exe_ctime=exe_ctime, exe_mtime=exe_mtime, env=env, stdio=stdio)


class ProcessTable:
    """pid -> :class:`Proc`, with ancestors and the per-container record of written files."""

    def __init__(self, proc_root: str = "/proc", max_procs: int = MAX_PROCS) -> None:
        self.root = proc_root
        self.max_procs = max_procs
        self.procs: OrderedDict[int, Proc] = OrderedDict()
        self.written: dict[str, OrderedDict[str, None]] = {}
        #: events of processes the table never saw exec and /proc no longer had: their proc.* fields are <NA>
        self.unresolved = 0
        self._fcache: dict[int, tuple[Proc, Proc | None, dict[str, Any]]] = {}
        #: (root, invoked path) -> the path resolved in that root, for executables gone before /proc was read
        self._resolved: dict[tuple[str, str], str] = {}

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
            loaded = load_proc(pid, self.root)
            if loaded is None:
                # gone before we could read /proc (or unreadable): evaluated with what the event itself carries, the
                # rest <NA> as Falco does, and counted (agent stats: unresolved_processes)
                self.unresolved += 1
                loaded = Proc(pid=pid, ppid=ppid, name=comm)
            p = loaded
            p.container_id = container_id
            self._put(p)
        return p

    def exec(self, pid: int, ppid: int, comm: str, exepath: str, argv: list[str], *, uid: int, gid: int,
             tty: int, loginuid: int, ts: int, container_id: str, upper_dir: str = "",
             image_drift: Callable[[str, int], str | None] | None = None, exe_name: str = "", root_pid: int = 0,
             **kernel: Any) -> Proc:
        """Record a successful exec (the process keeps its pid, takes a new image).

        ``kernel``: what the sensor captured at exec (exe_ino, exe_ctime, exe_mtime, from_memfd, pgid, sid, env,
        stdio), set on the new :class:`Proc` as given. ``image_drift(exepath, pid)``: whether the executable is the
        image's (:meth:`containerguard.runtime.imagefiles.ImageFiles.drift`), when the image's layers are known. The
        cwd and pid-namespace pid are read from /proc; a process already gone takes its parent's current cwd
        (inherited across fork and exec) and no vpid. ``exe_name`` (the executable's name as the kernel opened it)
        and ``root_pid`` (a process sharing its root: the container's init) give :attr:`Proc.exe_resolved`
        (:meth:`resolve_exe`).
        """
        cwd = _readlink(f"{self.root}/{pid}/cwd")
        if not cwd:
            # gone already: a child starts in its parent's cwd, so the parent's cwd now (a shell that ran `cd` since
            # its own exec) is closer than the one the table recorded at the parent's exec
            parent = self.procs.get(ppid)
            cwd = _readlink(f"{self.root}/{ppid}/cwd") or (parent.cwd if parent is not None else "")
        vpid = _nspid(_read(f"{self.root}/{pid}/status") or "")  # 0: gone already (short-lived), not known
        if exepath and not exepath.startswith(("/", "memfd:")) and cwd:
            exepath = os.path.normpath(os.path.join(cwd, exepath))
        written = self.written.get(container_id)
        p = Proc(pid=pid, ppid=ppid, name=comm, exepath=exepath, args=tuple(argv[1:]),
                 exe=argv[0] if argv else exepath, cwd=cwd, start_ns=ts, uid=uid, gid=gid, tty=tty,
                 loginuid=loginuid, container_id=container_id, vpid=vpid,
                 is_exe_written=bool(written is not None and exepath in written),
                 exe_resolved=self.resolve_exe(pid, exepath, exe_name, container_id, root_pid,
                                               argv[0] if argv else ""), **kernel)
        self._drift(p, upper_dir, image_drift, root_pid, written, self.procs.get(pid))
        self._put(p)
        return p

    def _drift(self, p: Proc, upper_dir: str, image_drift: Callable[[str, int], str | None] | None, root_pid: int,
               written: OrderedDict[str, None] | None, before: Proc | None = None) -> None:
        """Whether ``p``'s executable is in the container's upper layer, and the image layers' verdict on it. Judged
        on the file the exec named, with its symbolic links followed inside the container: a link made after the
        start (``ln -s /usr/bin/ls /tmp/x``) runs the image's file and is no drift, a link to a file written
        since is. A script is judged as itself, not as the interpreter the kernel runs for it. A program run from
        memory (memfd_create, then an exec of it) is no file of the image at all: drift in every container, except
        the runtime's own copy of itself (runc's ``memfd:runc_cloned``, exec'd by a process ``before`` that was not
        the container's: a process of the container naming its memfd so is drift like any other)."""
        if p.from_memfd or p.exepath.startswith("memfd:"):
            if p.container_id != "host" and not (
                    _RUNC_CLONE.match(p.exepath) and (before is None or before.container_id != p.container_id)):
                p.exe_drift = "run from memory (memfd), no file of the image"
            return
        if not p.exepath.startswith("/"):
            return
        named = p.exepath
        upper = bool(upper_dir) and in_upper_layer(upper_dir, named)
        drift = image_drift(named, p.pid) if image_drift is not None and p.container_id != "host" else None
        if upper or drift:  # a suspect: was it reached through a link? (rare, so the links are read only then)
            named = self._named(p.pid, root_pid, p.exepath) or p.exepath
            if named != p.exepath:
                upper = bool(upper_dir) and in_upper_layer(upper_dir, named)
                drift = image_drift(named, p.pid) if drift is not None and image_drift is not None else drift
                p.is_exe_written = p.is_exe_written or bool(written is not None and named in written)
        p.is_exe_upper_layer = upper
        p.exe_drift = drift

    def _named(self, pid: int, root_pid: int, path: str) -> str | None:
        """``path`` with its symbolic links followed inside the process's root (the container's init's for a
        process already gone), or None when it cannot be read."""
        for root in (f"{self.root}/{pid}/root", f"{self.root}/{root_pid}/root" if root_pid else ""):
            if root:
                found = resolve_in_root(root, path)
                if found is not None:
                    return found
        return None

    def resolve_exe(self, pid: int, exepath: str, exe_name: str = "", container_id: str = "host",
                    root_pid: int = 0, argv0: str = "") -> str:
        """The executable of an exec with its symbolic links resolved, so that one program has one path however it
        was started (``/bin/sh`` and ``/usr/bin/dash``; ``/bin/date`` and ``/usr/bin/date`` under usrmerge) and
        whether the process was seen exec'ing or read from /proc later (an agent restart).

        From ``/proc/PID/exe`` (the kernel's own resolution) while it is still this exec's executable (its name is
        ``exe_name``), else ``exepath`` resolved inside the process's root, or the root of ``root_pid`` (the
        container's init) for a process already gone; ``exepath`` itself when neither can be read. For a script
        the kernel's executable is its interpreter (the script's path is in the arguments), which the kernel put
        in ``argv0`` (the ``#!`` line): resolved the same way, so a script that lives and one already gone agree.
        """
        if not exepath or exepath.startswith("memfd:"):
            return exepath
        link = exe_link(_readlink(f"{self.root}/{pid}/exe"))
        if link and (not exe_name or link.rpartition("/")[2] == exe_name):
            return link
        if not exepath.startswith("/"):
            return exepath
        for path in (exepath, argv0) if argv0.startswith("/") and argv0 != exepath else (exepath,):
            found = self._resolve(pid, path, exe_name, container_id, root_pid)
            if found:
                return found
        return exepath

    def _resolve(self, pid: int, path: str, exe_name: str, container_id: str, root_pid: int) -> str:
        """``path`` resolved in the process's (or ``root_pid``'s) root when it names ``exe_name``, else ""."""
        key = (container_id, path)
        hit = self._resolved.get(key)
        if hit is not None and (not exe_name or hit.rpartition("/")[2] == exe_name):
            return hit
        for root in (f"{self.root}/{pid}/root", f"{self.root}/{root_pid}/root" if root_pid else ""):
            found = resolve_in_root(root, path) if root else None
            if found is not None and (not exe_name or found.rpartition("/")[2] == exe_name):
                if len(self._resolved) >= MAX_RESOLVED:
                    self._resolved.clear()
                self._resolved[key] = found
                return found
        return ""

    def exit(self, pid: int) -> None:
        """Forget an exited process."""
        self.procs.pop(pid, None)
        self._fcache.pop(pid, None)

    def note_fd(self, p: Proc, fd: int, path: str) -> None:
        """Remember that ``fd`` of ``p`` names ``path`` (from a successful open)."""
        if p.fds is None:
            p.fds = {}
        elif len(p.fds) >= MAX_FDS_PER_PROC and fd not in p.fds:
            p.fds.clear()
        p.fds[fd] = path

    def fd_path(self, p: Proc, fd: int, name: str = "") -> str:
        """The path of descriptor ``fd`` of ``p``: from its opens when the kernel's dentry ``name`` agrees (an fd
        number is reused after a close the sensor does not trace), else from /proc/PID/fd, else ''."""
        known = p.fds.get(fd) if p.fds is not None else None
        if known is not None and (not name or known.rpartition("/")[2] == name):
            return known
        link = _readlink(f"{self.root}/{p.pid}/fd/{fd}")
        if link.startswith("/"):
            return link.removesuffix(" (deleted)")
        return ""

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
            "proc.exe_drift": p.exe_drift, "proc.exe_resolved": p.exe_resolved or p.exepath,
            "proc.is_exe_from_memfd": p.from_memfd or p.exepath.startswith("memfd:"),
            "proc.anames": [a.name for a in anc], "proc.apids": [a.pid for a in anc],
            "proc.aexes": [a.exe for a in anc], "proc.aexepaths": [a.exepath for a in anc],
            "proc.acmdlines": [a.cmdline for a in anc],
            "proc.exeline": " ".join((p.exe, *p.args)), "proc.cmdnargs": len(p.args),
            "proc.cmdlenargs": sum(len(x) for x in p.args) + max(len(p.args) - 1, 0),
            "user.uid": p.uid, "user.loginuid": p.loginuid, "group.gid": p.gid,
        }
        # what is not known is there as None (<NA> in outputs, no match in conditions), as Falco does
        f.update({"proc.exe_ino": p.exe_ino or None, "proc.exe_ino.ctime": p.exe_ctime or None,
                  "proc.exe_ino.mtime": p.exe_mtime or None,
                  "proc.exe_ino.ctime_duration_proc_start": p.start_ns - p.exe_ctime if p.exe_ctime else None,
                  "proc.vpid": p.vpid or None, "proc.sid": p.sid or None, "proc.is_sid_leader": None,
                  "proc.sname": None, "proc.is_vpgid_leader": None, "proc.vpgid": None, "proc.vpgid.name": None,
                  "proc.vpgid.exe": None, "proc.env": p.env, "proc.pvpid": None})
        if p.sid:
            leader = p if p.sid == p.pid else self.procs.get(p.sid)
            f["proc.is_sid_leader"] = p.sid == p.pid
            if leader is not None:
                f["proc.sname"] = leader.name
        if p.pgid:
            f["proc.is_vpgid_leader"] = p.pgid == p.pid
            leader = p if p.pgid == p.pid else self.procs.get(p.pgid)
            if leader is not None:
                f.update({"proc.vpgid.name": leader.name, "proc.vpgid.exe": leader.exe, "proc.vpgid": leader.vpid or None})
        for i, which in enumerate(("stdin", "stdout", "stderr")):
            std = p.stdio[i] if i < len(p.stdio) else (None, None)
            f[f"proc.{which}.type"], f[f"proc.{which}.name"] = std
        if parent is not None:
            f.update({"proc.pname": parent.name, "proc.pcmdline": parent.cmdline,
                      "proc.pexepath": parent.exepath, "proc.pexe": parent.exe, "proc.pvpid": parent.vpid or None,
                      "proc.pexe_resolved": parent.exe_resolved or parent.exepath})
        else:  # an unknown parent is there as None too (the baseline's fast path reads these by subscript)
            f.update({"proc.pname": None, "proc.pcmdline": None, "proc.pexepath": None, "proc.pexe": None,
                      "proc.pexe_resolved": None})
        return f


class UserNames:
    """uid -> user name and gid -> group name, read from the passwd and group files the process itself sees
    (its container's /etc/passwd and /etc/group, through /proc/PID/root), cached per container."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self.root = proc_root
        self._cache: dict[tuple[str, int], str] = {}
        self._groups: dict[tuple[str, int], str] = {}

    def group(self, pid: int, gid: int, container_id: str) -> str:
        """The group name of ``gid`` in the process's own /etc/group ('' when it has none)."""
        return self._lookup(self._groups, "group", pid, gid, container_id)

    def name(self, pid: int, uid: int, container_id: str) -> str:
        """The user name of ``uid`` in the process's own /etc/passwd ('' when it has none)."""
        if uid < 0:
            return ""
        return self._lookup(self._cache, "passwd", pid, uid, container_id)

    def _lookup(self, cache: dict[tuple[str, int], str], file: str, pid: int, uid: int, container_id: str) -> str:
        key = (container_id, uid)
        hit = cache.get(key)
        if hit is not None:
            return hit
        if uid == 0:
            name = "root"
        else:
            name = ""
            text = _read(f"{self.root}/{pid}/root/etc/{file}") or ""
            for line in text.splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[2] == str(uid):
                    name = parts[0]
                    break
            if not name and text == "":
                return ""  # process gone: do not cache a miss
        if len(cache) > 65536:
            cache.clear()
        cache[key] = name
        return name
