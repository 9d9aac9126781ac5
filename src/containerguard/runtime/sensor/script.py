"""Generate the bpftrace program the sensor runs: only the probes the loaded rules need.

Every probe prints ONE tab-separated line at syscall exit (arguments saved at entry in per-thread maps,
user pointers read at exit, where the caller's memory is still mapped). ``execve`` is special: the
caller's memory is gone at exit, so the new image's argument block (``mm->arg_start..arg_end``) is read
with ``buf()`` and printed with ``%r`` (``\\x00`` separated). One line per event means no ordering problem
between CPUs: the kernel migrates tasks during exec, so an enter line and an exit line could otherwise
arrive in either order.

Line layout (see :mod:`containerguard.runtime.sensor.parse`)::

    TYPE  nsecs  pid  tid  ppid  uid  gid  mntns  comm  res  <type-specific fields...>
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: common fields printed first by every probe
HEAD_FMT = "%llu\\t%d\\t%d\\t%d\\t%u\\t%u\\t%u\\t%s\\t%lld"
HEAD_ARGS = ("nsecs, pid, tid, curtask->real_parent->tgid, uid, gid, "
             "curtask->nsproxy->mnt_ns->ns.inum, comm")

MAX_ARGS_BYTES = 200  # bytes of the argument block printed per exec
STRLEN = 160  # BPFTRACE_STRLEN: longest path printed (the 512-byte BPF stack bounds str + buf)


@dataclass(frozen=True, slots=True)
class Syscall:
    """One traced syscall: how its arguments are saved at entry and printed at exit."""

    name: str  # the syscall and Falco event type name
    save: tuple[tuple[str, str], ...]  # (map name, expression over args) saved at entry
    fmt: str  # type-specific printf fields after the head (each starts with \t)
    exprs: tuple[str, ...]  # printf arguments for fmt, may use $k (the map values)
    more: tuple[str, ...] = ()  # further strings, each printed on its own "more" line (stack limit)


def _s(name: str, *save: tuple[str, str], fmt: str, exprs: tuple[str, ...], more: tuple[str, ...] = ()) -> Syscall:
    return Syscall(name, tuple(save), fmt, exprs, more)


_PATH = "str(uptr($a0))"
_PATH2 = "str(uptr($a1))"

SYSCALLS: dict[str, Syscall] = {s.name: s for s in (
    _s("open", ("a0", "(uint64)args->filename"), ("a1", "(uint64)args->flags"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%llu\\t%d\\t%s", exprs=("$a1", "$a2", "-100", _PATH)),
    _s("openat", ("a0", "(uint64)args->filename"), ("a1", "(uint64)args->flags"), ("a2", "(uint64)args->mode"),
       ("a3", "(uint64)args->dfd"), fmt="\\t%llu\\t%llu\\t%d\\t%s", exprs=("$a1", "$a2", "(int32)$a3", _PATH)),
    _s("openat2", ("a0", "(uint64)args->filename"), ("a1", "(uint64)args->how"), ("a3", "(uint64)args->dfd"),
       fmt="\\t%llu\\t%llu\\t%d\\t%s",
       exprs=("((struct open_how *)$a1)->flags", "((struct open_how *)$a1)->mode", "(int32)$a3", _PATH)),
    _s("creat", ("a0", "(uint64)args->pathname"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%llu\\t%d\\t%s", exprs=("577", "$a2", "-100", _PATH)),  # O_CREAT|O_WRONLY|O_TRUNC
    _s("unlink", ("a0", "(uint64)args->pathname"), fmt="\\t%d\\t%s", exprs=("-100", _PATH)),
    _s("unlinkat", ("a0", "(uint64)args->pathname"), ("a3", "(uint64)args->dfd"),
       fmt="\\t%d\\t%s", exprs=("(int32)$a3", _PATH)),
    _s("rename", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("renameat", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("renameat2", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("chmod", ("a0", "(uint64)args->filename"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%s", exprs=("$a2", _PATH)),
    _s("fchmodat", ("a0", "(uint64)args->filename"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%s", exprs=("$a2", _PATH)),
    _s("link", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("linkat", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("symlink", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("symlinkat", ("a0", "(uint64)args->oldname"), ("a1", "(uint64)args->newname"),
       fmt="\\t%s", exprs=(_PATH,), more=(_PATH2,)),
    _s("socket", ("a0", "(uint64)args->family"), ("a1", "(uint64)args->type"), ("a2", "(uint64)args->protocol"),
       fmt="\\t%llu\\t%llu\\t%llu", exprs=("$a0", "$a1", "$a2")),
    _s("listen", ("a0", "(uint64)args->fd"), ("a1", "(uint64)args->backlog"),
       fmt="\\t%llu\\t%llu", exprs=("$a0", "$a1")),
    _s("setuid", ("a0", "(uint64)args->uid"), fmt="\\t%llu", exprs=("$a0",)),
    _s("setgid", ("a0", "(uint64)args->gid"), fmt="\\t%llu", exprs=("$a0",)),
    _s("ptrace", ("a0", "(uint64)args->request"), ("a1", "(uint64)args->pid"),
       fmt="\\t%llu\\t%llu", exprs=("$a0", "$a1")),
    _s("mount", ("a0", "(uint64)args->dev_name"), ("a1", "(uint64)args->dir_name"),
       ("a2", "(uint64)args->type"), ("a3", "(uint64)args->flags"),
       fmt="\\t%llu\\t%s", exprs=("$a3", _PATH), more=(_PATH2, "str(uptr($a2))")),
    _s("init_module", ("a0", "(uint64)args->len"), fmt="\\t%llu", exprs=("$a0",)),
    _s("finit_module", ("a0", "(uint64)args->fd"), ("a1", "(uint64)args->flags"),
       fmt="\\t%llu\\t%llu", exprs=("$a0", "$a1")),
    _s("memfd_create", ("a0", "(uint64)args->uname"), ("a1", "(uint64)args->flags"),
       fmt="\\t%llu\\t%s", exprs=("$a1", _PATH)),
    _s("bpf", ("a0", "(uint64)args->cmd"), fmt="\\t%llu", exprs=("$a0",)),
)}

#: socket calls whose address is read at exit (accept: the peer written by the kernel)
SOCKADDR_CALLS = {"connect": "args->uservaddr", "bind": "args->umyaddr",
                  "accept": "args->upeer_sockaddr", "accept4": "args->upeer_sockaddr"}

#: Falco event types (and aliases) -> the syscalls traced for them
EVENT_SYSCALLS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in SYSCALLS},
    **{name: (name,) for name in SOCKADDR_CALLS},
    "execve": ("execve",), "execveat": ("execveat",), "procexit": ("procexit",),
    "open_write": ("open", "openat", "openat2", "creat"),
}
ALL_EVENT_TYPES: frozenset[str] = frozenset(set(EVENT_SYSCALLS) - {"open_write"})

#: always traced: the process table needs exec/exit, drift detection needs writes
#: how many "more" lines follow an event line of this type
MORE_LINES: dict[str, int] = {"execve": 1, "execveat": 1, **{n: len(s.more) for n, s in SYSCALLS.items() if s.more}}
BASE_EVENTS = ("execve", "execveat", "procexit")
#: O_WRONLY|O_RDWR|O_CREAT|O_TRUNC: opens kept for drift tracking when the rules do not need all opens
WRITE_FLAGS_MASK = 0o1 | 0o2 | 0o100 | 0o1000


def _exec_probe(name: str) -> str:
    # The new image's stack holds the argument strings, then the environment, then the file name
    # passed to exec (AT_EXECFN): read both from the new mm, so no per-thread map is needed. Two
    # printf calls keep each under the 512-byte BPF stack; they come from the same probe run, so they
    # sit next to each other in one CPU's buffer and the parser pairs them by tid.
    return f"""
tracepoint:syscalls:sys_exit_{name} /args->ret == 0 && {{PRED}}/ {{
  $mm = curtask->mm; $t = curtask->signal->tty; $tty = (uint32)0;
  $len = $mm->arg_end - $mm->arg_start; if ($len > {MAX_ARGS_BYTES}) {{ $len = {MAX_ARGS_BYTES}; }}
  if ($t != 0) {{ $tty = (uint32)(($t->driver->major << 20) | ($t->driver->minor_start + $t->index)); }}
  printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%s\\n", {HEAD_ARGS}, args->ret,
         (int32)curtask->loginuid.val, $tty, str(uptr($mm->env_end)));
  printf("more\\t%d\\t%r\\n", tid, buf(uptr($mm->arg_start), $len));
}}
"""


def _generic_probe(sc: Syscall, extra_pred: str = "") -> str:
    saves = " ".join(f"@{m}_{sc.name}[tid] = {expr};" for m, expr in sc.save)
    pred = "{PRED}" + (f" && ({extra_pred})" if extra_pred else "")
    loads = " ".join(f"${m} = @{m}_{sc.name}[tid];" for m, _ in sc.save)
    deletes = " ".join(f"delete(@{m}_{sc.name}[tid]);" for m, _ in sc.save)
    args = ", ".join(sc.exprs)
    more = " ".join(f'printf("more\\t%d\\t%s\\n", tid, {expr});' for expr in sc.more)
    return f"""
tracepoint:syscalls:sys_enter_{sc.name} /{pred}/ {{ {saves} @in_{sc.name}[tid] = 1; }}
tracepoint:syscalls:sys_exit_{sc.name} /@in_{sc.name}[tid]/ {{
  {loads}
  printf("{sc.name}\\t{HEAD_FMT}{sc.fmt}\\n", {HEAD_ARGS}, args->ret, {args});
  {more}
  {deletes} delete(@in_{sc.name}[tid]);
}}
"""


def _sockaddr_probe(name: str, ptr: str) -> str:
    return f"""
tracepoint:syscalls:sys_enter_{name} /{{PRED}}/ {{ @sa_{name}[tid] = (uint64){ptr}; @sf_{name}[tid] = (uint64)args->fd; @in_{name}[tid] = 1; }}
tracepoint:syscalls:sys_exit_{name} /@in_{name}[tid]/ {{
  $a0 = @sa_{name}[tid]; $fd = (int64)@sf_{name}[tid];
  $fam = (uint32)0;
  if ($a0 != 0) {{ $sa = (struct sockaddr_in *)$a0; $fam = $sa->sin_family; }}
  if ($fam == 2) {{
    $sa4 = (struct sockaddr_in *)$a0;
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%s\\t%u\\n", {HEAD_ARGS}, args->ret, $fd, $fam, ntop(2, $sa4->sin_addr.s_addr),
           (uint32)bswap($sa4->sin_port));
  }} else {{ if ($fam == 10) {{
    $s6 = (struct sockaddr_in6 *)$a0;
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%s\\t%u\\n", {HEAD_ARGS}, args->ret, $fd, $fam, ntop(10, $s6->sin6_addr.in6_u.u6_addr8),
           (uint32)bswap($s6->sin6_port));
  }} else {{
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t\\t0\\n", {HEAD_ARGS}, args->ret, $fd, $fam);
  }} }}
  delete(@sa_{name}[tid]); delete(@sf_{name}[tid]); delete(@in_{name}[tid]);
}}
"""


def unavailable(event_types: Iterable[str], available: set[str] | None) -> list[str]:
    """The requested event types this kernel cannot trace."""
    if available is None:
        return []
    return sorted(et for et in set(event_types) if et in EVENT_SYSCALLS and et != "procexit"
                  and not any(sc in available for sc in EVENT_SYSCALLS[et]))


def syscalls_for(event_types: Iterable[str]) -> tuple[set[str], bool]:
    """The syscalls to trace for these event types; the flag says whether all opens are needed.

    Unknown event types are ignored here (the rules engine warns about them).
    """
    wanted: set[str] = set(BASE_EVENTS)
    for et in event_types:
        wanted.update(EVENT_SYSCALLS.get(et, ()))
    all_opens = bool(wanted & {"open", "openat", "openat2", "creat"})
    return wanted, all_opens


TRACEFS = Path("/sys/kernel/tracing")


def available_syscalls(tracefs: Path = TRACEFS) -> set[str] | None:
    """Syscalls with an enter tracepoint on this kernel (None when tracefs is not mounted)."""
    base = tracefs / "events" / "syscalls"
    if not base.is_dir():
        return None
    return {p.name[len("sys_enter_"):] for p in base.iterdir() if p.name.startswith("sys_enter_")}


def generate(event_types: Iterable[str], *, exclude_pids: Iterable[int] = (),
             host_mntns: int | None = None, containers_only: bool = False,
             available: set[str] | None = None) -> str:
    """The bpftrace program for these Falco event types.

    ``exclude_pids`` (the agent itself) are never traced; with ``containers_only`` the kernel drops
    events from the host mount namespace ``host_mntns`` before they reach user space. Syscalls missing
    from ``available`` (e.g. ``finit_module`` on a kernel without modules) are left out; see
    :func:`unavailable`.
    """
    wanted, all_opens = syscalls_for(event_types)
    if available is not None:
        wanted = {w for w in wanted if w == "procexit" or w in available}
    preds = [f"pid != {int(p)}" for p in exclude_pids]
    if containers_only and host_mntns is not None:
        preds.append(f"curtask->nsproxy->mnt_ns->ns.inum != {int(host_mntns)}")
    pred = " && ".join(preds) or "1"
    parts = ["BEGIN { printf(\"ready\\n\"); }"]
    for name in ("execve", "execveat"):
        if name in wanted:
            parts.append(_exec_probe(name))
    maps: list[str] = []  # per-thread maps: a thread killed inside a syscall never reaches its exit probe
    opens = {"open", "openat", "openat2", "creat"}
    for name, sc in SYSCALLS.items():
        if name in opens:
            if name in wanted or (not all_opens and (available is None or name in available)):
                maps += [f"@{m}_{name}" for m, _ in sc.save] + [f"@in_{name}"]
                flag_expr = {"open": "args->flags", "openat": "args->flags", "creat": "",
                             "openat2": "((struct open_how *)args->how)->flags"}[name]
                extra = "" if all_opens or not flag_expr else f"({flag_expr} & {WRITE_FLAGS_MASK}) != 0"
                parts.append(_generic_probe(sc, extra))
        elif name in wanted:
            maps += [f"@{m}_{name}" for m, _ in sc.save] + [f"@in_{name}"]
            parts.append(_generic_probe(sc))
    for name, ptr in SOCKADDR_CALLS.items():
        if name in wanted:
            maps += [f"@sa_{name}", f"@sf_{name}", f"@in_{name}"]
            parts.append(_sockaddr_probe(name, ptr))
    # every thread exit drops its map entries (no leak from killed threads); a process exit is reported
    cleanup = " ".join(f"delete({m}[tid]);" for m in maps)
    report = ""
    if "procexit" in wanted:
        report = (f"if ({{PRED}} && pid == tid) {{ printf(\"procexit\\t{HEAD_FMT}\\n\", {HEAD_ARGS}, "
                  "(int64)(curtask->exit_code >> 8)); }")
    if cleanup or report:
        parts.append(f"tracepoint:sched:sched_process_exit {{\n  {cleanup}\n  {report}\n}}\n")
    return "\n".join(p.replace("{PRED}", pred) for p in parts)
