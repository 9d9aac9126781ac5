"""``evt.args``: every argument of a syscall exit event as one text, in Falco's layout.

Falco renders the parameters of the exit event (its driver's event table: the modern layouts, which carry the
entry arguments too) as ``name=value`` pairs joined by spaces, for example::

    fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=/etc/shadow flags=4097(O_RDONLY|O_CLOEXEC) mode=0
    res=0 tuple=172.17.0.2:45678->10.0.0.1:443 fd=3(<4t>172.17.0.2:45678->10.0.0.1:443)

Values follow Falco's formats: a descriptor is its number and ``(<TYPECHAR>NAME)``; an error result is the number and
its errno name; flags are the number in Falco's own encoding and their names; modes are octal; a relative path is
followed by its resolved form in parentheses. What the sensor does not capture (device and inode numbers of opened
files, accept queue figures, most of execve's memory and credential counters) is left out rather than made up; see
docs/fields.md. Only computed when a loaded rule reads ``evt.args``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from containerguard.runtime.rules.ruleset import printable
from containerguard.runtime.sensor.parse import RawEvent

#: Linux open(2) flag bits -> Falco's PPM_O_* bits (the number Falco prints before the names)
_PPM_OPEN = ((0o100, 1 << 2, "O_CREAT"), (0o2000, 1 << 3, "O_APPEND"), (0o10000, 1 << 4, "O_DSYNC"),
             (0o200, 1 << 5, "O_EXCL"), (0o4000, 1 << 6, "O_NONBLOCK"), (0o4010000, 1 << 7, "O_SYNC"),
             (0o1000, 1 << 8, "O_TRUNC"), (0o40000, 1 << 9, "O_DIRECT"), (0o200000, 1 << 10, "O_DIRECTORY"),
             (0o100000, 1 << 11, "O_LARGEFILE"), (0o2000000, 1 << 12, "O_CLOEXEC"), (0o20200000, 1 << 13, "O_TMPFILE"))
_L4CHAR = {"tcp": "t", "udp": "u", "icmp": "i", "raw": "r"}


def ppm_open_flags(flags: int) -> str:
    """Open flags as Falco prints them: ``4097(O_RDONLY|O_CLOEXEC)`` (Falco's bit encoding, then the names)."""
    acc = flags & 3
    value = {0: 1, 1: 2, 2: 3}.get(acc, 0)
    names = [{0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}.get(acc, "O_NONE")]
    for bit, ppm, name in _PPM_OPEN:
        if flags & bit == bit:
            value |= ppm
            names.append(name)
    return f"{value}({'|'.join(names)})"


def _res(v: int) -> str:
    if v >= 0:
        return str(v)
    return f"{v}({errno.errorcode.get(-v, 'E' + str(-v))})"


def _dirfd(v: int) -> str:
    return f"{v}(AT_FDCWD)" if v == -100 else str(v)


def _oct(v: int) -> str:
    return "0" if v == 0 else f"0{v:o}"


def _fd(num: Any, f: dict[str, Any], own: bool = True) -> str:
    """A descriptor: ``3(<f>/etc/shadow)``, the event's own descriptor naming its file or connection."""
    if not isinstance(num, int):
        return "<NA>"
    if num < 0:
        return _res(num)
    if not own or "fd.typechar" not in f or "fd.name" not in f:
        return str(num)
    tc = str(f["fd.typechar"]) + _L4CHAR.get(str(f.get("fd.l4proto", "")), "")
    return f"{num}(<{tc}>{f['fd.name']})"


def _path(raw: str, resolved: str) -> str:
    return raw if raw.startswith("/") or not resolved or resolved == raw else f"{raw}({resolved})"


def _tuple(f: dict[str, Any]) -> str:
    return str(f.get("evt.arg.tuple") or f.get("fd.name") or "")


Renderer = Callable[[RawEvent, dict[str, Any]], list[tuple[str, str]]]


def _open(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    out = [("fd", _fd(ev.res, f))]
    if ev.type in ("openat", "openat2"):
        out.append(("dirfd", _dirfd(int(a[2]))))
    out.append(("name", _path(a[3], str(f.get("fd.name", "")))))
    if ev.type != "creat":
        out.append(("flags", ppm_open_flags(int(a[0]))))
    out.append(("mode", _oct(int(a[1]))))
    return out


def _unlink(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    name = _path(a[-1], str(f.get("fd.name", "")))
    if ev.type == "unlinkat":
        return [("res", _res(ev.res)), ("dirfd", _dirfd(int(a[0]))), ("name", name)]
    return [("res", _res(ev.res)), ("path", name)]


def _mkdir(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    out = [("res", _res(ev.res))]
    if ev.type == "mkdirat":
        out.append(("dirfd", _dirfd(int(a[1]))))
    return [*out, ("path", _path(a[2], str(f.get("fd.name", "")))), ("mode", _oct(int(a[0])))]


def _rename(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    old, new = ev.args[0], ev.more[0] if ev.more else ""
    if ev.type.startswith("symlink"):
        return [("res", _res(ev.res)), ("target", old), ("linkpath", _path(new, str(f.get("fs.path.target", ""))))]
    return [("res", _res(ev.res)), ("oldpath", _path(old, str(f.get("fs.path.source", "")))),
            ("newpath", _path(new, str(f.get("fs.path.target", ""))))]


def _chmod(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    if ev.type == "fchmod":
        return [("res", _res(ev.res)), ("fd", _fd(int(a[1]), f)), ("mode", _oct(int(a[0])))]
    return [("res", _res(ev.res)), ("filename", _path(a[1], str(f.get("fd.name", "")))), ("mode", _oct(int(a[0])))]


def _truncate(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    what = ("fd", _fd(int(a[1]), f)) if ev.type == "ftruncate" else ("path", _path(a[2], str(f.get("fd.name", ""))))
    return [("res", _res(ev.res)), what, ("length", a[0])]


def _connect(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    fd = int(ev.args[0])
    t = ev.type
    if t == "connect":
        return [("res", _res(ev.res)), ("tuple", _tuple(f)), ("fd", _fd(fd, f))]
    if t.startswith("accept"):
        return [("fd", _fd(ev.res, f)), ("tuple", _tuple(f))]
    if t == "bind":
        ip, port = ev.args[2], ev.args[3]
        addr = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        return [("res", _res(ev.res)), ("addr", addr if ip else ""), ("fd", _fd(fd, f))]
    out = [("res", _res(ev.res))]
    if "evt.buffer" in f:
        out.append(("data", printable(f["evt.buffer"])))
    return [*out, ("fd", _fd(fd, f)), ("tuple", _tuple(f))]


def _dup(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    a = ev.args
    out = [("res", _fd(ev.res, f)), ("oldfd", a[0])]
    if ev.type != "dup":
        out.append(("newfd", a[1]))
    if ev.type == "dup3":
        out.append(("flags", a[2]))
    return out


def _simple(*names: str) -> Renderer:
    """``res`` then the decoded ``evt.arg.NAME`` values, in this order."""
    def render(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
        return [("res", _res(ev.res)), *((n, str(f[f"evt.arg.{n}"])) for n in names if f"evt.arg.{n}" in f)]
    return render


def _fdres(*names: str) -> Renderer:
    """An fd-creating call: ``fd`` then the decoded ``evt.arg.NAME`` values."""
    def render(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
        return [("fd", _fd(ev.res, f)), *((n, str(f[f"evt.arg.{n}"])) for n in names if f"evt.arg.{n}" in f)]
    return render


_FAMILIES = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}


def _socket(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    fam = int(ev.args[0])
    return [("fd", _fd(ev.res, f)), ("domain", f"{fam}({_FAMILIES.get(fam, 'AF_' + str(fam))})"),
            ("type", str(int(ev.args[1]))), ("proto", str(int(ev.args[2])))]


def _execve(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    return [("res", _res(ev.res)), ("exe", str(f.get("proc.exe", ""))), ("args", str(f.get("proc.args", ""))),
            ("tid", str(ev.tid)), ("pid", str(ev.pid)), ("ptid", str(ev.ppid)), ("cwd", str(f.get("proc.cwd", ""))),
            ("comm", ev.comm), ("tty", str(f.get("proc.tty", 0))), ("loginuid", str(f.get("user.loginuid", -1))),
            ("cap_permitted", str(f.get("thread.cap_permitted", ""))),
            ("cap_effective", str(f.get("thread.cap_effective", ""))), ("exe_ino", str(f.get("proc.exe_ino", 0))),
            ("uid", str(ev.uid)), ("gid", str(ev.gid))]


def _procexit(ev: RawEvent, f: dict[str, Any]) -> list[tuple[str, str]]:
    return [("status", str(ev.res)), ("ret", str(ev.res))]


_RENDER: dict[str, Renderer] = {
    **dict.fromkeys(("open", "openat", "openat2", "creat"), _open),
    **dict.fromkeys(("unlink", "unlinkat", "rmdir"), _unlink),
    **dict.fromkeys(("mkdir", "mkdirat"), _mkdir),
    **dict.fromkeys(("rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"), _rename),
    **dict.fromkeys(("chmod", "fchmodat", "fchmodat2", "fchmod"), _chmod),
    **dict.fromkeys(("truncate", "ftruncate"), _truncate),
    **dict.fromkeys(("connect", "accept", "accept4", "bind", "sendto", "recvfrom", "sendmsg", "recvmsg"), _connect),
    **dict.fromkeys(("dup", "dup2", "dup3"), _dup),
    **dict.fromkeys(("execve", "execveat"), _execve),
    "socket": _socket,
    "listen": _simple("fd", "backlog"),
    "setuid": _simple("uid"), "setgid": _simple("gid"),
    "setns": _simple("fd", "nstype"), "unshare": _simple("flags"),
    "userfaultfd": _simple("flags"),
    "ptrace": _simple("request", "pid"),
    "mount": _simple("dev", "dir", "type", "flags"),
    "memfd_create": _fdres("name", "flags"),
    "bpf": _fdres("cmd"),
    "finit_module": _simple("fd", "flags"), "init_module": _simple("len"),
    "procexit": _procexit,
}


def falco_args(ev: RawEvent, f: dict[str, Any]) -> str:
    """``evt.args`` of a decoded event (``f``: its fields so far), in Falco's layout."""
    render = _RENDER.get(ev.type)
    if render is None:
        pairs = [(k[8:], str(v)) for k, v in f.items() if k.startswith("evt.arg.")]
    else:
        try:
            pairs = render(ev, f)
        except (ValueError, IndexError):  # a malformed line: what the decoded fields hold
            pairs = [(k[8:], str(v)) for k, v in f.items() if k.startswith("evt.arg.")]
    return " ".join(f"{k}={v}" for k, v in pairs)
