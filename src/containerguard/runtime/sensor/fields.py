"""RawEvent -> the Falco ``evt.*`` / ``fd.*`` fields (the catalog rows with producer ``sensor``).

``proc.*``, ``user.*`` and ``container.*`` come from the process table and the container inventory
(:mod:`containerguard.runtime.agent` merges them).
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from containerguard.runtime.sensor.parse import RawEvent, decode_buf, decode_bytes
from containerguard.runtime.sensor.script import MAX_ENV_BYTES

AT_FDCWD = -100

_OPEN_FLAGS = (
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o40000, "O_DIRECT"), (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"), (0o20000000, "O_PATH"),
    (0o20200000, "O_TMPFILE"),
)
_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}
_SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
               10: "SOCK_PACKET"}
_PTRACE = {0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 4: "PTRACE_POKETEXT",
           5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSER", 7: "PTRACE_CONT", 8: "PTRACE_KILL",
           9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS", 16: "PTRACE_ATTACH",
           17: "PTRACE_DETACH", 0x4200: "PTRACE_SETOPTIONS", 0x4206: "PTRACE_SEIZE"}
_BPF_CMDS = {0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 3: "BPF_MAP_DELETE_ELEM",
             4: "BPF_MAP_GET_NEXT_KEY", 5: "BPF_PROG_LOAD", 6: "BPF_OBJ_PIN", 7: "BPF_OBJ_GET",
             8: "BPF_PROG_ATTACH", 9: "BPF_PROG_DETACH"}

def open_flags(flags: int) -> str:
    """Open flags as Falco prints them (``O_WRONLY|O_CREAT|O_TRUNC``)."""
    acc = flags & 3
    names = ["O_RDONLY" if acc == 0 else "O_WRONLY" if acc == 1 else "O_RDWR"]
    names += [n for bit, n in _OPEN_FLAGS if flags & bit == bit]
    return "|".join(names)


#: Linux capability numbers -> names, as Falco prints thread.cap_* (space-separated, in bit order)
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
_CAP_TEXT: dict[int, str] = {}


def cap_text(mask: int) -> str:
    """A capability bit mask as Falco renders it: ``CAP_CHOWN CAP_DAC_OVERRIDE ...`` (cached: few distinct sets)."""
    hit = _CAP_TEXT.get(mask)
    if hit is None:
        hit = " ".join(n for i, n in enumerate(CAPABILITIES) if mask >> i & 1)
        if len(_CAP_TEXT) < 4096:
            _CAP_TEXT[mask] = hit
    return hit


#: inode type (i_mode >> 12) -> Falco's fd.type / fd.typechar for a non-socket file
_INODE_TYPES = {1: ("pipe", "p"), 2: ("file", "f"), 4: ("directory", "d"), 6: ("file", "f"), 8: ("file", "f"),
                10: ("file", "f")}
_L4 = {(1, 6): "tcp", (1, 0): "tcp", (2, 17): "udp", (2, 0): "udp", (3, 1): "icmp", (2, 1): "icmp"}
EINPROGRESS = 115
#: datagram calls traced only when they name a peer address (Falco's fd.name_changed)
_DATAGRAM_CALLS = frozenset({"sendto", "sendmsg", "recvfrom", "recvmsg"})
_ANY_ADDR = frozenset({"0.0.0.0", "::"})  # noqa: S104 - the unspecified address, compared, not bound


@dataclass(frozen=True, slots=True)
class SockInfo:
    """A descriptor as the kernel saw it (the sensor's socket line): inode type and, for sockets, both ends."""

    mode: int  # i_mode >> 12 (12 socket, 1 pipe, 8 regular file, 2 char device, 0 unknown/closed)
    stype: int = 0
    proto: int = 0
    family: int = 0
    lip: str = ""
    lport: int = 0
    rip: str = ""
    rport: int = 0

    @property
    def fd_type(self) -> str | None:
        """The fd.type of the socket's inode (ipv4, ipv6, unix, ...), None when unknown."""
        if self.mode == 12:
            return {2: "ipv4", 10: "ipv6", 1: "unix", 16: "netlink"}.get(self.family, "socket")
        return _INODE_TYPES.get(self.mode, (None, ""))[0]

    @property
    def typechar(self) -> str:
        """The fd.typechar of the socket (4, 6, u, ...)."""
        if self.mode == 12:
            return {2: "4", 10: "6", 1: "u", 16: "n"}.get(self.family, "s")
        return _INODE_TYPES.get(self.mode, ("", "?"))[1]

    @property
    def l4proto(self) -> str | None:
        """tcp, udp, icmp or raw, None when unknown."""
        if self.family not in (2, 10):
            return None
        return _L4.get((self.stype & 0xF, self.proto), "raw" if self.stype & 0xF == 3 else None)


def parse_sock(text: str) -> SockInfo | None:
    """``MODE STYPE PROTO FAMILY LIP LPORT RIP RPORT`` (the sensor's socket line) -> SockInfo, None if malformed."""
    parts = text.split(" ")
    if len(parts) != 8:
        return None
    try:
        si = SockInfo(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]),
                      "" if parts[4] == "-" else parts[4], int(parts[5]), "" if parts[6] == "-" else parts[6],
                      int(parts[7]))
    except ValueError:
        return None
    if si.family == 10 and _v4mapped(si.lip) and (_v4mapped(si.rip) or si.rip in ("", "::")):
        # an IPv4 peer of a dual-stack socket: Falco reports it as IPv4
        return SockInfo(si.mode, si.stype, si.proto, 2, si.lip[7:], si.lport,
                        si.rip[7:] if si.rip.startswith("::ffff:") else "0.0.0.0", si.rport)  # noqa: S104
    return si


def _v4mapped(ip: str) -> bool:
    return ip.startswith("::ffff:") and "." in ip


def _hostport(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def sock_fields(f: dict[str, Any], si: SockInfo, *, server: bool | None) -> None:
    """Falco's fd.* fields of a socket from both of its ends. ``server``: this process is the server end
    (accept, listen, bind); False for a client (connect); None when unknown (dup, sendto): then the end with the
    lower port number (a listening port) is taken as the server, as Falco does for sockets it did not see open."""
    t = si.fd_type
    if t is None:
        return
    f["fd.type"] = t
    f["fd.typechar"] = si.typechar
    if si.mode != 12:
        return
    f["fd.sockfamily"] = "ip" if si.family in (2, 10) else "unix" if si.family == 1 else t
    if si.family not in (2, 10):
        return
    l4 = si.l4proto
    if l4:
        f["fd.l4proto"] = l4
    f.update({"fd.lip": si.lip, "fd.lport": si.lport})
    if si.rip and not (si.rport == 0 and si.rip in _ANY_ADDR):
        f.update({"fd.rip": si.rip, "fd.rport": si.rport})
    if server is None:
        server = bool(si.rport) and 0 < si.lport < si.rport
    if server:
        f.update({"fd.sip": si.lip, "fd.sport": si.lport, "fd.is_server": True})
        if "fd.rip" in f:
            f.update({"fd.cip": si.rip, "fd.cport": si.rport})
    else:
        f.update({"fd.cip": si.lip, "fd.cport": si.lport, "fd.is_server": False})
        if "fd.rip" in f:
            f.update({"fd.sip": si.rip, "fd.sport": si.rport})
    if "fd.cip" in f and "fd.sip" in f:
        f["fd.name"] = f"{_hostport(f['fd.cip'], f['fd.cport'])}->{_hostport(f['fd.sip'], f['fd.sport'])}"
    elif "fd.sip" in f:
        f["fd.name"] = _hostport(f["fd.sip"], f["fd.sport"])
    f["fd.connected"] = "fd.rip" in f


#: resolves a descriptor of the event's process to a path ("" when unknown): (fd, dentry name from the kernel)
FdResolver = Callable[[int, str], str]
#: which end of a connection a socket is, from what the agent saw (its connect or accept): True server, False
#: client, None unknown (then the end with the lower port, a listening port, is taken as the server)
RoleResolver = Callable[[SockInfo], bool | None]


def _normalise(raw: str, dirfd: int, cwd: str, resolve: FdResolver | None) -> str:
    """Falco's fd.name: the path made absolute (against the cwd, or the directory ``dirfd`` names) and normalised
    (``/etc/../etc/shadow`` -> ``/etc/shadow``, ``//x/./y`` -> ``/x/y``). A relative path whose base is unknown
    stays as given."""
    if not raw:
        return raw
    if raw.startswith("/"):
        base = ""
    elif dirfd == AT_FDCWD or dirfd == -100:
        base = cwd
    else:
        base = resolve(dirfd, "") if resolve is not None else ""
    if not raw.startswith("/") and not base:
        return raw
    path = posixpath.normpath(posixpath.join(base, raw) if base else raw)
    return "/" + path.lstrip("/") if path.startswith("//") else path


def _file(f: dict[str, Any], path: str, raw: str | None = None) -> None:
    f["fd.name"] = path
    f["fd.nameraw"] = path if raw is None else raw
    d, _, base = path.rpartition("/")
    f["fd.directory"] = d or "/"
    f["fd.filename"] = base
    f["fd.typechar"] = "f"
    f["fd.type"] = "file"


_NS_FLAGS = ((0x00020000, "CLONE_NEWNS"), (0x02000000, "CLONE_NEWCGROUP"), (0x04000000, "CLONE_NEWUTS"),
             (0x08000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"), (0x20000000, "CLONE_NEWPID"),
             (0x40000000, "CLONE_NEWNET"), (0x00000080, "CLONE_NEWTIME"))


def ns_flags(flags: int) -> str:
    """Namespace flags as text (``CLONE_NEWNS|CLONE_NEWNET``)."""
    return "|".join(n for bit, n in _NS_FLAGS if flags & bit) or str(flags)


def _fd_path(fd: int, more: str, resolve: FdResolver | None) -> tuple[str, int]:
    """(path, inode type) of a descriptor named by an fdname line ``MODE NAME``."""
    mode_s, _, name = more.partition(" ")
    mode = int(mode_s) if mode_s.isdigit() else 0
    path = resolve(fd, name) if resolve is not None else ""
    return (path or name), mode


def _dec_open(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
              role: RoleResolver | None) -> str | None:
    """open, openat, openat2, creat."""
    flags, mode, dirfd = int(a[0]), int(a[1]), int(a[2])
    path = _normalise(a[3], dirfd, cwd, resolve)
    _file(f, path, a[3])
    f.update({"evt.arg.flags": open_flags(flags), "evt.arg.mode": mode, "evt.arg.name": path,
              "evt.arg.dirfd": dirfd, "fd.num": ev.res,
              "evt.is_open_read": (flags & 3) in (0, 2), "evt.is_open_write": (flags & 3) in (1, 2),
              "evt.is_open_create": bool(flags & 0o100), "evt.is_open_exec": bool(flags & 0o100 and mode & 0o111)})
    if ev.res >= 0 and (flags & 3 or flags & 0o100):
        return path
    return None


def _dec_unlink(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """unlink, unlinkat, rmdir."""
    path = _normalise(a[-1], int(a[0]), cwd, resolve)
    _file(f, path, a[-1])
    f.update({"evt.arg.name": path, "evt.arg.path": path, "evt.arg.pathname": path, "fs.path.name": path})
    return None


def _dec_mkdir(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
               role: RoleResolver | None) -> str | None:
    """mkdir, mkdirat."""
    path = _normalise(a[2], int(a[1]), cwd, resolve)
    _file(f, path, a[2])
    f.update({"evt.arg.path": path, "evt.arg.mode": int(a[0]), "fs.path.name": path, "fd.type": "directory",
              "fd.typechar": "d"})
    return None


def _dec_rename(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """rename, renameat, renameat2, link, linkat, symlink, symlinkat."""
    old_raw, new_raw = a[0], ev.more[0] if ev.more else ""
    old = _normalise(old_raw, AT_FDCWD, cwd, resolve) if t not in ("symlink", "symlinkat") else old_raw
    new = _normalise(new_raw, AT_FDCWD, cwd, resolve)
    _file(f, new, new_raw)
    f.update({"fs.path.name": old, "fs.path.source": old, "fs.path.target": new})
    if t.startswith("symlink"):
        f.update({"evt.arg.target": old, "evt.arg.linkpath": new})
    else:
        f.update({"evt.arg.oldpath": old, "evt.arg.newpath": new})
    if ev.res >= 0 and not t.startswith("symlink"):
        return new
    return None


def _dec_chmod(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
               role: RoleResolver | None) -> str | None:
    """chmod, fchmodat, fchmodat2."""
    path = _normalise(a[1], AT_FDCWD, cwd, resolve)
    _file(f, path, a[1])
    f.update({"evt.arg.mode": int(a[0]), "evt.arg.filename": path, "evt.arg.path": path, "fs.path.name": path})
    return None


def _dec_fchmod(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """fchmod."""
    fd = int(a[1])
    path, _m = _fd_path(fd, ev.more[0] if ev.more else "", resolve)
    _file(f, path)
    f.update({"evt.arg.mode": int(a[0]), "evt.arg.fd": fd, "fd.num": fd})
    return None


def _dec_truncate(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                  role: RoleResolver | None) -> str | None:
    """truncate."""
    path = _normalise(a[2], AT_FDCWD, cwd, resolve)
    _file(f, path, a[2])
    f.update({"evt.arg.path": path, "evt.arg.length": int(a[0]), "fs.path.name": path})
    return None


def _dec_ftruncate(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                   role: RoleResolver | None) -> str | None:
    """ftruncate."""
    fd = int(a[1])
    path, _m = _fd_path(fd, ev.more[0] if ev.more else "", resolve)
    _file(f, path)
    f.update({"evt.arg.fd": fd, "evt.arg.length": int(a[0]), "fd.num": fd})
    return None


def _dec_execve(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """execve, execveat."""
    f.update({"evt.arg.res": ev.res})
    return None


def _dec_connect(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                 role: RoleResolver | None) -> str | None:
    """connect, accept, accept4, bind, sendto, sendmsg, recvfrom, recvmsg."""
    fd, fam, addr, port = int(a[0]), int(a[1]), a[2], int(a[3])
    f["fd.num"] = ev.res if t.startswith("accept") else fd
    f["evt.arg.fd"] = fd
    if len(ev.more) > 1 and ev.more[1]:  # the data buffer (captured when a rule reads evt.buffer)
        data = decode_bytes(ev.more[1])
        f["evt.buffer"] = data
        f["evt.buflen"] = max(ev.res, 0)
        f["evt.arg.size"] = ev.res
    si = parse_sock(ev.more[0]) if ev.more else None
    if si is not None and si.mode == 12 and si.family in (2, 10):
        sock_fields(f, si, server=(role(si) if role is not None else None) if t in _DATAGRAM_CALLS
                    else t != "connect")
        if t == "connect" and fam in (2, 10):
            f.update({"fd.sip": addr, "fd.sport": port, "fd.rip": addr, "fd.rport": port})
            f["fd.name"] = f"{_hostport(si.lip, si.lport)}->{_hostport(addr, port)}"
            f["fd.connected"] = ev.res == 0
        elif t in _DATAGRAM_CALLS and fam in (2, 10) and t.startswith("send"):
            # a datagram to a named destination: the fd now names it (Falco's fd.name_changed)
            f.update({"fd.sip": addr, "fd.sport": port, "fd.rip": addr, "fd.rport": port,
                      "fd.cip": si.lip, "fd.cport": si.lport, "fd.is_server": False,
                      "fd.name": f"{_hostport(si.lip, si.lport)}->{_hostport(addr, port)}"})
            f["fd.name_changed"] = not (si.rip == addr and si.rport == port)
        if t == "connect":
            f["evt.arg.tuple"] = f["fd.name"]
    else:
        fam_name = _FAMILIES.get(fam, str(fam))
        f["fd.sockfamily"] = "ip" if fam in (2, 10) else "unix" if fam == 1 else fam_name
        if fam in (2, 10):
            f["fd.typechar"] = "4" if fam == 2 else "6"
            f["fd.type"] = "ipv4" if fam == 2 else "ipv6"
            f["fd.rip"] = addr
            f["fd.rport"] = port
            if t == "connect" or t in _DATAGRAM_CALLS:
                f.update({"fd.sip": addr, "fd.sport": port, "fd.is_server": False, "fd.name": _hostport(addr, port),
                          "evt.arg.tuple": f"->{_hostport(addr, port)}"})
            elif t == "bind":
                f.update({"fd.lip": addr, "fd.lport": port, "fd.sip": addr, "fd.sport": port,
                          "fd.name": _hostport(addr, port), "fd.is_server": True})
            else:
                f.update({"fd.cip": addr, "fd.cport": port, "fd.is_server": True, "fd.name": _hostport(addr, port)})
        elif fam == 1:
            f["fd.typechar"] = "u"
            f["fd.type"] = "unix"
    return None


def _dec_dup(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
             role: RoleResolver | None) -> str | None:
    """dup, dup2, dup3."""
    f.update({"evt.arg.fd" if t == "dup" else "evt.arg.oldfd": int(a[0]), "fd.num": ev.res})
    if t != "dup":
        f["evt.arg.newfd"] = int(a[1])
    if t == "dup3":
        f["evt.arg.flags"] = int(a[2])
    si = parse_sock(ev.more[0]) if ev.more else None
    if si is not None and ev.res >= 0:
        sock_fields(f, si, server=role(si) if role is not None else None)
    return None


def _dec_socket(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """socket."""
    fam, typ, proto = int(a[0]), int(a[1]), int(a[2])
    f.update({"evt.arg.domain": _FAMILIES.get(fam, str(fam)), "evt.arg.type": _SOCK_TYPES.get(typ & 0xF, str(typ)),
              "evt.arg.proto": proto, "fd.num": ev.res})
    return None


def _dec_listen(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """listen."""
    f.update({"evt.arg.fd": int(a[0]), "evt.arg.backlog": int(a[1]), "fd.num": int(a[0])})
    si = parse_sock(ev.more[0]) if ev.more else None
    if si is not None:
        sock_fields(f, si, server=True)
    return None


def _dec_setuid(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """setuid, setgid."""
    f["evt.arg.uid" if t == "setuid" else "evt.arg.gid"] = int(a[0])
    return None


def _dec_setns(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
               role: RoleResolver | None) -> str | None:
    """setns."""
    fd, nstype = int(a[0]), int(a[1])
    path, _m = _fd_path(fd, ev.more[0] if ev.more else "", resolve)
    f.update({"evt.arg.fd": fd, "evt.arg.nstype": ns_flags(nstype) if nstype else "0", "fd.num": fd,
              "fd.name": path})
    return None


def _dec_unshare(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                 role: RoleResolver | None) -> str | None:
    """unshare."""
    f["evt.arg.flags"] = ns_flags(int(a[0]))
    return None


def _dec_userfaultfd(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                     role: RoleResolver | None) -> str | None:
    """userfaultfd."""
    f["evt.arg.flags"] = int(a[0])
    f["fd.num"] = ev.res
    f["fd.type"] = "userfaultfd"
    return None


def _dec_ptrace(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                role: RoleResolver | None) -> str | None:
    """ptrace."""
    req = int(a[0])
    f.update({"evt.arg.request": _PTRACE.get(req, str(req)), "evt.arg.pid": int(a[1])})
    return None


def _dec_mount(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
               role: RoleResolver | None) -> str | None:
    """mount."""
    more = [*ev.more, "", ""]
    f.update({"evt.arg.flags": int(a[0]), "evt.arg.dev": a[1], "evt.arg.dir": more[0], "evt.arg.type": more[1]})
    return None


def _dec_memfd_create(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                      role: RoleResolver | None) -> str | None:
    """memfd_create."""
    f.update({"evt.arg.flags": int(a[0]), "evt.arg.name": a[1], "fd.name": f"memfd:{a[1]}", "fd.type": "memfd"})
    return None


def _dec_bpf(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
             role: RoleResolver | None) -> str | None:
    """bpf."""
    cmd = int(a[0])
    f["evt.arg.cmd"] = _BPF_CMDS.get(cmd, str(cmd))
    return None


def _dec_finit_module(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                      role: RoleResolver | None) -> str | None:
    """finit_module."""
    f.update({"evt.arg.fd": int(a[0]), "evt.arg.flags": int(a[1])})
    return None


def _dec_init_module(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                     role: RoleResolver | None) -> str | None:
    """init_module."""
    f["evt.arg.len"] = int(a[0])
    return None


def _dec_procexit(f: dict[str, Any], t: str, a: list[str], ev: RawEvent, cwd: str, resolve: FdResolver | None,
                  role: RoleResolver | None) -> str | None:
    """procexit."""
    f["evt.arg.status"] = ev.res
    return None


#: event type -> its decoder: fills the type's fields into ``f``, returns the path it wrote (drift) or None
DECODERS: dict[str, Callable[..., str | None]] = {
    "open": _dec_open,
    "openat": _dec_open,
    "openat2": _dec_open,
    "creat": _dec_open,
    "unlink": _dec_unlink,
    "unlinkat": _dec_unlink,
    "rmdir": _dec_unlink,
    "mkdir": _dec_mkdir,
    "mkdirat": _dec_mkdir,
    "rename": _dec_rename,
    "renameat": _dec_rename,
    "renameat2": _dec_rename,
    "link": _dec_rename,
    "linkat": _dec_rename,
    "symlink": _dec_rename,
    "symlinkat": _dec_rename,
    "chmod": _dec_chmod,
    "fchmodat": _dec_chmod,
    "fchmodat2": _dec_chmod,
    "fchmod": _dec_fchmod,
    "truncate": _dec_truncate,
    "ftruncate": _dec_ftruncate,
    "execve": _dec_execve,
    "execveat": _dec_execve,
    "connect": _dec_connect,
    "accept": _dec_connect,
    "accept4": _dec_connect,
    "bind": _dec_connect,
    "sendto": _dec_connect,
    "sendmsg": _dec_connect,
    "recvfrom": _dec_connect,
    "recvmsg": _dec_connect,
    "dup": _dec_dup,
    "dup2": _dec_dup,
    "dup3": _dec_dup,
    "socket": _dec_socket,
    "listen": _dec_listen,
    "setuid": _dec_setuid,
    "setgid": _dec_setuid,
    "setns": _dec_setns,
    "unshare": _dec_unshare,
    "userfaultfd": _dec_userfaultfd,
    "ptrace": _dec_ptrace,
    "mount": _dec_mount,
    "memfd_create": _dec_memfd_create,
    "bpf": _dec_bpf,
    "finit_module": _dec_finit_module,
    "init_module": _dec_init_module,
    "procexit": _dec_procexit,
}


def event_fields(ev: RawEvent, cwd: str, resolve: FdResolver | None = None,
                 role: RoleResolver | None = None) -> tuple[dict[str, Any], str | None]:
    """The ``evt.*``/``fd.*`` fields of a raw event, and the path it wrote (for drift), if any.

    ``resolve`` maps a descriptor of the process to its path (the agent's fd table, then /proc); it serves
    ``*at`` calls with a directory descriptor and calls that name a file by descriptor (ftruncate, fchmod).
    """
    t = ev.type
    a = ev.args
    f: dict[str, Any] = {"evt.type": t, "evt.dir": "<", "evt.rawres": ev.res,
                         "evt.res": "SUCCESS" if ev.res >= 0 else errno.errorcode.get(-ev.res, str(ev.res)),
                         "evt.failed": ev.res < 0, "thread.tid": ev.tid,
                         "thread.cap_effective": cap_text(ev.cap_effective),
                         "thread.cap_permitted": cap_text(ev.cap_permitted)}
    decode = DECODERS.get(t)
    written = decode(f, t, a, ev, cwd, resolve, role) if decode is not None else None
    if "fd.name" in f and "fd.nameraw" not in f:
        f["fd.nameraw"] = f["fd.name"]
    return f, written


@dataclass(frozen=True, slots=True)
class ExecInfo:
    """What the sensor captured in the kernel at a successful exec (see sensor/script.py)."""

    loginuid: int
    tty: int
    exe_ino: int
    exe_ctime: int  # ns since the epoch
    exe_mtime: int
    exe_nlink: int  # 0: the executable is deleted or a memfd
    pgid: int  # host-namespace process group and session ids
    sid: int
    execfn: str  # the path given to exec (AT_EXECFN)
    exe_name: str  # the executable's dentry name: ``memfd:NAME`` for a memfd
    argv: list[str]
    env: dict[str, str]
    env_truncated: bool  # the environment is longer than the kernel read (MAX_ENV_BYTES)
    stdio: tuple[SockInfo, SockInfo, SockInfo]  # fds 0-2 (the first socket among 0/1 with both ends)

    @property
    def from_memfd(self) -> bool:
        """Whether the executable is a memfd (fileless execution)."""
        return self.exe_name.startswith("memfd:")


def parse_env(entries: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict (entries without ``=`` are skipped)."""
    env: dict[str, str] = {}
    for e in entries:
        k, sep, v = e.partition("=")
        if sep and k:
            env[k] = v
    return env


def exec_info(ev: RawEvent) -> ExecInfo:
    """Decode an execve/execveat event (12 fields and 5 more lines); raises ValueError/IndexError if malformed."""
    a = ev.args
    more = [*ev.more, "", "", "", "", ""]
    argv = decode_buf(more[2]) if more[2] else []
    env_len = int(a[11])
    env_entries = decode_buf(more[3]) if more[3] else []
    truncated = env_len > MAX_ENV_BYTES
    if truncated and env_entries:
        env_entries.pop()  # the last entry was cut by the kernel read
    modes = (int(a[8]), int(a[9]), int(a[10]))
    sock = parse_sock(more[4])
    # the sensor describes the first socket among fds 0 and 1; another socket among 0-2 is taken to be the same
    # one (a reverse shell dup2()s one connection onto all three)
    stdio = tuple(sock if sock is not None and m == 12 and sock.mode == 12 else SockInfo(m) for m in modes)
    return ExecInfo(loginuid=int(a[0]), tty=int(a[1]), exe_ino=int(a[2]), exe_ctime=int(a[3]), exe_mtime=int(a[4]),
                    exe_nlink=int(a[5]), pgid=int(a[6]), sid=int(a[7]), execfn=more[0], exe_name=more[1],
                    argv=argv, env=parse_env(env_entries), env_truncated=truncated,
                    stdio=(stdio[0], stdio[1], stdio[2]))


def exec_argv(ev: RawEvent) -> list[str]:
    """The argument vector of an exec event (from its ``more`` line)."""
    return decode_buf(ev.more[2]) if len(ev.more) > 2 else []
