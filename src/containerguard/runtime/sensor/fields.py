"""RawEvent -> the Falco ``evt.*`` / ``fd.*`` fields (the catalog rows with producer ``sensor``).

``proc.*``, ``user.*`` and ``container.*`` come from the process table and the container inventory
(:mod:`containerguard.runtime.agent` merges them).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from containerguard.runtime.sensor.parse import RawEvent, decode_buf

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


def _path(raw: str, dirfd: int, cwd: str) -> str:
    if raw.startswith("/") or not raw:
        return raw
    if dirfd == AT_FDCWD and cwd:
        return os.path.normpath(os.path.join(cwd, raw))
    return raw


def _file(f: dict[str, Any], path: str) -> None:
    f["fd.name"] = path
    d, _, base = path.rpartition("/")
    f["fd.directory"] = d or "/"
    f["fd.filename"] = base
    f["fd.typechar"] = "f"
    f["fd.type"] = "file"


_Fields = dict[str, Any]
#: per event type: (fields, args, raw event, cwd) -> the path it wrote (for drift), if any
_Decoder = Callable[[_Fields, list[str], RawEvent, str], "str | None"]


def _open(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    flags, mode, dirfd = int(a[0]), int(a[1]), int(a[2])
    path = _path(a[3], dirfd, cwd)
    _file(f, path)
    f.update({"evt.arg.flags": open_flags(flags), "evt.arg.mode": mode, "evt.arg.name": path,
              "evt.arg.dirfd": dirfd, "fd.num": ev.res,
              "evt.is_open_read": (flags & 3) in (0, 2), "evt.is_open_write": (flags & 3) in (1, 2),
              "evt.is_open_create": bool(flags & 0o100)})
    return path if ev.res >= 0 and (flags & 3 or flags & 0o100) else None


def _unlink(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    path = _path(a[-1], int(a[0]), cwd)
    _file(f, path)
    f.update({"evt.arg.name": path, "evt.arg.path": path, "evt.arg.pathname": path, "fs.path.name": path})
    return None


def _two_paths(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    symlink = ev.type.startswith("symlink")
    old = a[0] if symlink else _path(a[0], AT_FDCWD, cwd)
    new = _path(ev.more[0] if ev.more else "", AT_FDCWD, cwd)
    _file(f, new)
    f.update({"fs.path.name": old, "fs.path.source": old, "fs.path.target": new})
    if symlink:
        f.update({"evt.arg.target": old, "evt.arg.linkpath": new})
        return None
    f.update({"evt.arg.oldpath": old, "evt.arg.newpath": new})
    return new if ev.res >= 0 else None


def _chmod(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    path = _path(a[1], AT_FDCWD, cwd)
    _file(f, path)
    f.update({"evt.arg.mode": int(a[0]), "evt.arg.filename": path, "evt.arg.path": path, "fs.path.name": path})
    return None


def _exec(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f["evt.arg.res"] = ev.res
    return None


def _inet(f: _Fields, t: str, fam: int, addr: str, port: int) -> None:
    f["fd.typechar"] = "4" if fam == 2 else "6"
    f["fd.type"] = "ipv4" if fam == 2 else "ipv6"
    f["fd.rip"] = addr
    f["fd.rport"] = port
    if t == "connect":
        f.update({"fd.sip": addr, "fd.sport": port, "fd.is_server": False,
                  "fd.name": f"{addr}:{port}" if fam == 2 else f"[{addr}]:{port}",
                  "evt.arg.tuple": f"->{addr}:{port}"})
    elif t == "bind":
        f.update({"fd.lip": addr, "fd.lport": port, "fd.sip": addr, "fd.sport": port,
                  "fd.name": f"{addr}:{port}", "fd.is_server": True})
    else:
        f.update({"fd.cip": addr, "fd.cport": port, "fd.is_server": True, "fd.name": f"{addr}:{port}"})


def _sockaddr(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    t = ev.type
    fd, fam, addr, port = int(a[0]), int(a[1]), a[2], int(a[3])
    f["fd.num"] = ev.res if t.startswith("accept") else fd
    f["evt.arg.fd"] = fd
    f["fd.sockfamily"] = "ip" if fam in (2, 10) else "unix" if fam == 1 else _FAMILIES.get(fam, str(fam))
    if fam in (2, 10):
        _inet(f, t, fam, addr, port)
    elif fam == 1:
        f["fd.typechar"] = "u"
        f["fd.type"] = "unix"
    return None


def _socket(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    fam, typ, proto = int(a[0]), int(a[1]), int(a[2])
    f.update({"evt.arg.domain": _FAMILIES.get(fam, str(fam)), "evt.arg.type": _SOCK_TYPES.get(typ & 0xF, str(typ)),
              "evt.arg.proto": proto, "fd.num": ev.res})
    return None


def _listen(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f.update({"evt.arg.fd": int(a[0]), "evt.arg.backlog": int(a[1]), "fd.num": int(a[0])})
    return None


def _setid(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f["evt.arg.uid" if ev.type == "setuid" else "evt.arg.gid"] = int(a[0])
    return None


def _ptrace(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    req = int(a[0])
    f.update({"evt.arg.request": _PTRACE.get(req, str(req)), "evt.arg.pid": int(a[1])})
    return None


def _mount(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    more = [*ev.more, "", ""]
    f.update({"evt.arg.flags": int(a[0]), "evt.arg.dev": a[1], "evt.arg.dir": more[0], "evt.arg.type": more[1]})
    return None


def _memfd(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f.update({"evt.arg.flags": int(a[0]), "evt.arg.name": a[1], "fd.name": f"memfd:{a[1]}"})
    return None


def _bpf(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    cmd = int(a[0])
    f["evt.arg.cmd"] = _BPF_CMDS.get(cmd, str(cmd))
    return None


def _finit_module(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f.update({"evt.arg.fd": int(a[0]), "evt.arg.flags": int(a[1])})
    return None


def _init_module(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f["evt.arg.len"] = int(a[0])
    return None


def _procexit(f: _Fields, a: list[str], ev: RawEvent, cwd: str) -> str | None:
    f["evt.arg.status"] = ev.res
    return None


#: event type -> its decoder (one entry per type the sensor traces)
DECODERS: dict[str, _Decoder] = {
    **dict.fromkeys(("open", "openat", "openat2", "creat"), _open),
    **dict.fromkeys(("unlink", "unlinkat"), _unlink),
    **dict.fromkeys(("rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"), _two_paths),
    **dict.fromkeys(("chmod", "fchmodat"), _chmod),
    **dict.fromkeys(("execve", "execveat"), _exec),
    **dict.fromkeys(("connect", "accept", "accept4", "bind"), _sockaddr),
    **dict.fromkeys(("setuid", "setgid"), _setid),
    "socket": _socket, "listen": _listen, "ptrace": _ptrace, "mount": _mount, "memfd_create": _memfd,
    "bpf": _bpf, "finit_module": _finit_module, "init_module": _init_module, "procexit": _procexit,
}


def event_fields(ev: RawEvent, cwd: str) -> tuple[dict[str, Any], str | None]:
    """The ``evt.*``/``fd.*`` fields of a raw event, and the path it wrote (for drift), if any."""
    f: dict[str, Any] = {"evt.type": ev.type, "evt.dir": "<", "evt.rawres": ev.res,
                         "evt.res": "SUCCESS" if ev.res >= 0 else errno.errorcode.get(-ev.res, str(ev.res)),
                         "evt.failed": ev.res < 0, "thread.tid": ev.tid}
    decode = DECODERS.get(ev.type)
    written = decode(f, ev.args, ev, cwd) if decode is not None else None
    return f, written


def exec_argv(ev: RawEvent) -> list[str]:
    """The argument vector of an exec event (from its ``more`` line)."""
    return decode_buf(ev.more[0]) if ev.more else []
