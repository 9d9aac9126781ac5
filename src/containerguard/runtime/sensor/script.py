"""Generate the bpftrace program the sensor runs: only the probes the loaded rules need.

Every probe prints ONE tab-separated line at syscall exit (arguments saved at entry in per-thread maps,
user pointers read at exit, where the caller's memory is still mapped). ``execve`` is special: the
caller's memory is gone at exit, so the new image's argument block (``mm->arg_start..arg_end``) is read
with ``buf()`` and printed with ``%r`` (``\\x00`` separated). One line per event means no ordering problem
between CPUs: the kernel migrates tasks during exec, so an enter line and an exit line could otherwise
arrive in either order.

Line layout (see :mod:`containerguard.runtime.sensor.parse`)::

    TYPE  nsecs  pid  tid  ppid  uid  gid  mntns  capeff  capprm  comm  res  <type-specific fields...>

``capeff``/``capprm`` are the calling thread's effective and permitted capability sets (hex bit masks), read
from its credentials in the kernel at the syscall, so ``thread.cap_*`` is right even after capset/setuid.

What is captured in the kernel at exec, so a process that is gone before user space sees the line (short
lived, or run from a memfd) is still attributed: the executable's inode number, ctime and mtime, its link
count (0: deleted or memfd) and dentry name (``memfd:NAME`` for a memfd), the process group and session ids,
the file types of fds 0-2 and the addresses of the first socket among them (a shell whose stdin/stdout is
a socket), the first :data:`MAX_ENV_BYTES` bytes of the environment and :data:`MAX_ARGS_BYTES` of argv.
Socket events carry the socket's own view of both ends (family, type, protocol, local and remote
address/port) read from the kernel's ``struct sock``, on one more line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: common fields printed first by every probe
#: comm is printed with %r (escaped, NUL padded): whoever names a program chooses its bytes, tabs and newlines included
HEAD_FMT = "%llu\\t%d\\t%d\\t%d\\t%u\\t%u\\t%u\\t%llx\\t%llx\\t%r\\t%lld"
HEAD_ARGS = ("nsecs, pid, tid, curtask->real_parent->tgid, uid, gid, "
             "curtask->nsproxy->mnt_ns->ns.inum, curtask->cred->cap_effective.val, "
             "curtask->cred->cap_permitted.val, buf(comm, 16)")

STRLEN = 160  # BPFTRACE_STRLEN: longest path printed (the 512-byte BPF stack bounds str + buf)
MAX_ARGS_BYTES = 200  # bytes of the argument block printed per exec
#: bytes of the environment block read in the kernel at exec (the rest from /proc, if alive). bpftrace's buf() copies
#: at most BPFTRACE_STRLEN bytes whatever length it is given, so a larger figure would cut the last variable without
#: the parser knowing the block was cut.
MAX_ENV_BYTES = STRLEN


@dataclass(frozen=True, slots=True)
class Syscall:
    """One traced syscall: how its arguments are saved at entry and printed at exit."""

    name: str  # the syscall and Falco event type name
    save: tuple[tuple[str, str], ...]  # (map name, expression over args) saved at entry
    fmt: str  # type-specific printf fields after the head (each starts with \t)
    exprs: tuple[str, ...]  # printf arguments for fmt, may use $k (the map values)
    more: tuple[str, ...] = ()  # further strings, each printed on its own "more" line (stack limit)
    #: an fd expression (at exit): one more line describes its file and, for a socket, both ends (_sock_line)
    sock: str = ""
    #: an fd expression (at exit): one more line with the file's dentry name (the agent resolves the full path)
    fdname: str = ""
    pred: str = ""  # extra predicate at entry (e.g. sendto only with a destination address)

    @property
    def n_more(self) -> int:
        """How many ``more`` lines follow an event line of this syscall."""
        return len(self.more) + bool(self.sock) + bool(self.fdname)


def _s(name: str, *save: tuple[str, str], fmt: str, exprs: tuple[str, ...], more: tuple[str, ...] = (),
       sock: str = "", fdname: str = "", pred: str = "") -> Syscall:
    return Syscall(name, tuple(save), fmt, exprs, more, sock, fdname, pred)


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
    # fd duplication: the new descriptor's file (a socket dup'ed onto 0/1/2 is a reverse shell)
    _s("dup", ("a0", "(uint64)args->fildes"), fmt="\\t%llu", exprs=("$a0",), sock="$ret"),
    _s("dup2", ("a0", "(uint64)args->oldfd"), ("a1", "(uint64)args->newfd"), fmt="\\t%llu\\t%llu",
       exprs=("$a0", "$a1"), sock="$ret"),
    _s("dup3", ("a0", "(uint64)args->oldfd"), ("a1", "(uint64)args->newfd"), ("a2", "(uint64)args->flags"),
       fmt="\\t%llu\\t%llu\\t%llu", exprs=("$a0", "$a1", "$a2"), sock="$ret"),
    _s("setns", ("a0", "(uint64)args->fd"), ("a1", "(uint64)args->flags"), fmt="\\t%lld\\t%llu",
       exprs=("(int32)$a0", "$a1"), fdname="(int32)$a0"),
    _s("unshare", ("a0", "(uint64)args->unshare_flags"), fmt="\\t%llu", exprs=("$a0",)),
    _s("mkdir", ("a0", "(uint64)args->pathname"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%d\\t%s", exprs=("$a2", "-100", _PATH)),
    _s("mkdirat", ("a0", "(uint64)args->pathname"), ("a2", "(uint64)args->mode"), ("a3", "(uint64)args->dfd"),
       fmt="\\t%llu\\t%d\\t%s", exprs=("$a2", "(int32)$a3", _PATH)),
    _s("rmdir", ("a0", "(uint64)args->pathname"), fmt="\\t%d\\t%s", exprs=("-100", _PATH)),
    _s("fchmod", ("a0", "(uint64)args->fd"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%llu", exprs=("$a2", "$a0"), fdname="(int64)$a0"),
    _s("fchmodat2", ("a0", "(uint64)args->filename"), ("a2", "(uint64)args->mode"),
       fmt="\\t%llu\\t%s", exprs=("$a2", _PATH)),
    _s("userfaultfd", ("a0", "(uint64)args->flags"), fmt="\\t%llu", exprs=("$a0",)),
    _s("truncate", ("a0", "(uint64)args->path"), ("a1", "(uint64)args->length"),
       fmt="\\t%lld\\t%d\\t%s", exprs=("(int64)$a1", "-100", _PATH)),
    _s("ftruncate", ("a0", "(uint64)args->fd"), ("a1", "(uint64)args->length"),
       fmt="\\t%lld\\t%llu", exprs=("(int64)$a1", "$a0"), fdname="(int64)$a0"),
    _s("listen", ("a0", "(uint64)args->fd"), ("a1", "(uint64)args->backlog"),
       fmt="\\t%llu\\t%llu", exprs=("$a0", "$a1"), sock="(int64)$a0"),
)}

#: socket calls whose address is read at exit (accept: the peer written by the kernel)
SOCKADDR_CALLS = {"connect": "args->uservaddr", "bind": "args->umyaddr",
                  "accept": "args->upeer_sockaddr", "accept4": "args->upeer_sockaddr", "sendto": "args->addr",
                  "recvfrom": "args->addr", "sendmsg": "((struct user_msghdr *)args->msg)->msg_name",
                  "recvmsg": "((struct user_msghdr *)args->msg)->msg_name"}
#: extra entry predicates of socket calls: a sendto without a destination is an ordinary write on a connected
#: socket (Falco's ``fd.name_changed`` is false then); only the ones naming a destination are reported
SOCKADDR_PRED = {"sendto": "args->addr != 0", "recvfrom": "args->addr != 0",
                 "sendmsg": "((struct user_msghdr *)args->msg)->msg_name != 0",
                 "recvmsg": "((struct user_msghdr *)args->msg)->msg_name != 0"}

#: socket calls that carry a data buffer: (entry expression of the buffer's address, entry expression of its length)
#: (recvmsg/sendmsg: the first iovec). ``evt.buffer`` is their first :data:`SNAPLEN` bytes that went through (the
#: return value bounds it), read at exit; the buffer line is printed only when a loaded rule reads evt.buffer
#: (``generate(buffers=True)``), else it is empty.
BUFFER_CALLS = {
    "sendto": "(uint64)args->buff", "recvfrom": "(uint64)args->ubuf",
    "sendmsg": "(uint64)((struct iovec *)((struct user_msghdr *)args->msg)->msg_iov)->iov_base",
    "recvmsg": "(uint64)((struct iovec *)((struct user_msghdr *)args->msg)->msg_iov)->iov_base",
}
SNAPLEN = 80  # Falco's default snaplen: bytes of a data buffer captured

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
MORE_LINES: dict[str, int] = {"execve": 5, "execveat": 5, **dict.fromkeys(SOCKADDR_CALLS, 1),
                              **dict.fromkeys(BUFFER_CALLS, 2),
                              **{n: s.n_more for n, s in SYSCALLS.items() if s.n_more}}
BASE_EVENTS = ("execve", "execveat", "procexit")
#: O_WRONLY|O_RDWR|O_CREAT|O_TRUNC: opens kept for drift tracking when the rules do not need all opens
WRITE_FLAGS_MASK = 0o1 | 0o2 | 0o100 | 0o1000


def _file_of(fd: str, var: str) -> str:
    """bpftrace statements setting ``$<var>`` to the ``struct file *`` of descriptor ``fd`` of the current task
    (0 when out of range). bpftrace 0.17 drops an assignment inside ``if`` unless the value is cast to the
    variable's type, hence the casts."""
    return (f"$fdt_{var} = curtask->files->fdt; $p_{var} = (uint64)0; $n_{var} = (int64)({fd}); "
            f"if ($n_{var} >= 0 && $n_{var} < (int64)$fdt_{var}->max_fds) {{ "
            f"$p_{var} = (uint64)*(uint64 *)((uint64)$fdt_{var}->fd + (uint64)$n_{var} * 8); }} "
            f"${var} = (struct file *)$p_{var};")


def _sock_line(file_var: str) -> str:
    """Statements printing one ``more`` line describing the file ``$<file_var>``:
    ``MODE STYPE PROTO FAMILY LIP LPORT RIP RPORT`` (MODE: the inode type, i_mode >> 12; 12 is a socket).
    Addresses come from the kernel's socket, so both ends are known whatever the syscall's arguments were."""
    f = f"${file_var}"
    sk = f"$sk_{file_var}"
    common = f"{sk}->__sk_common"
    return f"""
  $m_{file_var} = (uint32)({f}->f_inode->i_mode >> 12);
  {sk} = ((struct socket *){f}->private_data)->sk;
  $fam_{file_var} = (uint32)0;
  if ($m_{file_var} == (uint32)12) {{ $fam_{file_var} = (uint32){common}.skc_family; }}
  if ($fam_{file_var} == (uint32)2) {{
    printf("more\\t%d\\t%u %u %u 2 %s %u %s %u\\n", tid, $m_{file_var}, (uint32){sk}->sk_type, (uint32){sk}->sk_protocol,
           ntop(2, {common}.skc_rcv_saddr), (uint32){common}.skc_num, ntop(2, {common}.skc_daddr),
           (uint32)bswap({common}.skc_dport));
  }} else {{ if ($fam_{file_var} == (uint32)10) {{
    printf("more\\t%d\\t%u %u %u 10 %s %u %s %u\\n", tid, $m_{file_var}, (uint32){sk}->sk_type, (uint32){sk}->sk_protocol,
           ntop(10, {common}.skc_v6_rcv_saddr.in6_u.u6_addr8), (uint32){common}.skc_num,
           ntop(10, {common}.skc_v6_daddr.in6_u.u6_addr8), (uint32)bswap({common}.skc_dport));
  }} else {{
    printf("more\\t%d\\t%u 0 0 %u - 0 - 0\\n", tid, $m_{file_var}, $fam_{file_var});
  }} }}
"""


def _exec_probe(name: str) -> str:
    # The new image's stack holds the argument strings, then the environment, then the file name
    # passed to exec (AT_EXECFN): read them from the new mm, so no per-thread map is needed. Several
    # printf calls keep each under the 512-byte BPF stack; they come from the same probe run, so they
    # sit next to each other in one CPU's buffer and the parser pairs them by tid. The executable's
    # identity (inode, times, link count, dentry name) comes from mm->exe_file, in the kernel, at exec.
    return f"""
tracepoint:syscalls:sys_exit_{name} /args->ret == 0 && {{PRED}}/ {{
  $mm = curtask->mm; $t = curtask->signal->tty; $tty = (uint32)0;
  $len = $mm->arg_end - $mm->arg_start; if ($len > {MAX_ARGS_BYTES}) {{ $len = {MAX_ARGS_BYTES}; }}
  $elen = $mm->env_end - $mm->env_start; if ($elen > {MAX_ENV_BYTES}) {{ $elen = {MAX_ENV_BYTES}; }}
  if ($t != 0) {{ $tty = (uint32)(($t->driver->major << 20) | ($t->driver->minor_start + $t->index)); }}
  $ef = $mm->exe_file; $ei = $ef->f_inode;
  $pg = (uint64)curtask->signal->pids[2]; $sd = (uint64)curtask->signal->pids[3];
  {_file_of("0", "f0")} {_file_of("1", "f1")} {_file_of("2", "f2")}
  printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%lu\\t%llu\\t%llu\\t%u\\t%d\\t%d\\t%u\\t%u\\t%u\\t%llu\\n",
         {HEAD_ARGS}, args->ret, (int32)curtask->loginuid.val, $tty, $ei->i_ino,
         (uint64)$ei->i_ctime_sec * 1000000000 + ($ei->i_ctime_nsec & 1073741823),
         (uint64)$ei->i_mtime_sec * 1000000000 + ($ei->i_mtime_nsec & 1073741823), $ei->__i_nlink,
         *(int32 *)($pg + sizeof(struct pid)), *(int32 *)($sd + sizeof(struct pid)),
         (uint32)($f0->f_inode->i_mode >> 12), (uint32)($f1->f_inode->i_mode >> 12),
         (uint32)($f2->f_inode->i_mode >> 12), $mm->env_end - $mm->env_start);
  printf("more\\t%d\\t%s\\n", tid, str(uptr($mm->env_end)));
  printf("more\\t%d\\t%s\\n", tid, str($ef->f_path.dentry->d_name.name));
  printf("more\\t%d\\t%r\\n", tid, buf(uptr($mm->arg_start), $len));
  printf("more\\t%d\\t%r\\n", tid, buf(uptr($mm->env_start), $elen));
  $fs = $f0; if ((uint32)($f0->f_inode->i_mode >> 12) != (uint32)12) {{ $fs = $f1; }}
  {_sock_line("fs")}
}}
"""


def _fdname_line(fd: str) -> str:
    return (f"{_file_of(fd, 'fn')}\n  printf(\"more\\t%d\\t%u %s\\n\", tid, (uint32)($fn->f_inode->i_mode >> 12), "
            "str($fn->f_path.dentry->d_name.name));")


def _call_id(name: str) -> int:
    """The number a thread's ``@in`` entry holds while it is inside syscall ``name``. The per-thread maps are shared
    by every traced syscall (a thread is inside one syscall at a time), which keeps the program under the kernel's
    64 maps per program (the exit probe deletes them all)."""
    return 1 + sorted([*SYSCALLS, *SOCKADDR_CALLS]).index(name)


def _generic_probe(sc: Syscall, extra_pred: str = "") -> str:
    saves = " ".join(f"@{m}[tid] = {expr};" for m, expr in sc.save)
    sid = _call_id(sc.name)
    extra_pred = " && ".join(x for x in (extra_pred, sc.pred) if x)
    pred = "{PRED}" + (f" && ({extra_pred})" if extra_pred else "")
    loads = " ".join(f"${m} = @{m}[tid];" for m, _ in sc.save)
    deletes = " ".join(f"delete(@{m}[tid]);" for m, _ in sc.save)
    args = ", ".join(sc.exprs)
    more = " ".join(f'printf("more\\t%d\\t%s\\n", tid, {expr});' for expr in sc.more)
    if sc.sock:
        more += f"\n  {_file_of(sc.sock, 'fk')}" + _sock_line("fk")
    if sc.fdname:
        more += "\n  " + _fdname_line(sc.fdname)
    return f"""
tracepoint:syscalls:sys_enter_{sc.name} /{pred}/ {{ {saves} @in[tid] = {sid}; }}
tracepoint:syscalls:sys_exit_{sc.name} /@in[tid] == {sid}/ {{
  $ret = args->ret; {loads}
  printf("{sc.name}\\t{HEAD_FMT}{sc.fmt}\\n", {HEAD_ARGS}, $ret, {args});
  {more}
  {deletes} delete(@in[tid]);
}}
"""


def _buffer_line(name: str, capture: bool) -> tuple[str, str]:
    """(entry statement, exit statements) printing the ``more`` line with a data call's buffer (empty when not
    capturing: the parser always expects the line)."""
    if name not in BUFFER_CALLS:
        return "", ""
    if not capture:
        return "", 'printf("more\\t%d\\t\\n", tid);'
    return (f"@sb[tid] = {BUFFER_CALLS[name]};",
            f"$bn = $ret; if ($bn > {SNAPLEN}) {{ $bn = {SNAPLEN}; }} if ($bn < 0) {{ $bn = 0; }}\n"
            f'  printf("more\\t%d\\t%r\\n", tid, buf(uptr(@sb[tid]), $bn)); delete(@sb[tid]);')


def _sockaddr_probe(name: str, ptr: str, buffers: bool = False) -> str:
    # capturing buffers, every call is reported (a recv on a connected socket names no peer, Falco sees it too)
    pred = "{PRED}" + (f" && ({SOCKADDR_PRED[name]})" if name in SOCKADDR_PRED and not buffers else "")
    sock_fd = "$ret" if name.startswith("accept") else "$fd"
    sid = _call_id(name)
    save_buf, print_buf = _buffer_line(name, buffers)
    return f"""
tracepoint:syscalls:sys_enter_{name} /{pred}/ {{ @sa[tid] = (uint64){ptr}; @sf[tid] = (uint64)args->fd; {save_buf} @in[tid] = {sid}; }}
tracepoint:syscalls:sys_exit_{name} /@in[tid] == {sid}/ {{
  $ret = args->ret; $a0 = @sa[tid]; $fd = (int64)@sf[tid];
  $fam = (uint32)0;
  if ($a0 != 0) {{ $sa = (struct sockaddr_in *)$a0; $fam = $sa->sin_family; }}
  if ($fam == 2) {{
    $sa4 = (struct sockaddr_in *)$a0;
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%s\\t%u\\n", {HEAD_ARGS}, $ret, $fd, $fam, ntop(2, $sa4->sin_addr.s_addr),
           (uint32)bswap($sa4->sin_port));
  }} else {{ if ($fam == 10) {{
    $s6 = (struct sockaddr_in6 *)$a0;
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t%s\\t%u\\n", {HEAD_ARGS}, $ret, $fd, $fam, ntop(10, $s6->sin6_addr.in6_u.u6_addr8),
           (uint32)bswap($s6->sin6_port));
  }} else {{
    printf("{name}\\t{HEAD_FMT}\\t%d\\t%u\\t\\t0\\n", {HEAD_ARGS}, $ret, $fd, $fam);
  }} }}
  {_file_of(sock_fd, "fk")}{_sock_line("fk")}
  {print_buf}
  delete(@sa[tid]); delete(@sf[tid]); delete(@in[tid]);
}}
"""


def unavailable(event_types: Iterable[str], available: set[str] | None) -> list[str]:
    """The requested event types this kernel cannot trace."""
    if available is None:
        return []
    return sorted(et for et in set(event_types) if et in EVENT_SYSCALLS and et != "procexit"
                  and not any(sc in available for sc in EVENT_SYSCALLS[et]))


#: event types other sources than the kernel report (the container inventory's start events)
OTHER_EVENT_TYPES = frozenset({"container"})


def traced_event_types(available: set[str] | None) -> set[str]:
    """The event types the agent can report on this kernel (``available``: its syscall tracepoints, None: all)."""
    out = set(OTHER_EVENT_TYPES) | {"procexit"}
    for et, calls in EVENT_SYSCALLS.items():
        if available is None or any(c in available for c in calls):
            out.add(et)
    return out


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
             available: set[str] | None = None, buffers: bool = False) -> str:
    """The bpftrace program for these Falco event types.

    ``exclude_pids`` (the agent itself) are never traced; with ``containers_only`` the kernel drops
    events from the host mount namespace ``host_mntns`` before they reach user space. Syscalls missing
    from ``available`` (e.g. ``finit_module`` on a kernel without modules) are left out; see
    :func:`unavailable`. ``buffers`` (a loaded rule reads ``evt.buffer``): the data calls copy the first
    :data:`SNAPLEN` bytes of their buffer and are reported whether or not they name a peer.
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
                maps += [f"@{m}" for m, _ in sc.save] + ["@in"]
                flag_expr = {"open": "args->flags", "openat": "args->flags", "creat": "",
                             "openat2": "((struct open_how *)args->how)->flags"}[name]
                extra = "" if all_opens or not flag_expr else f"({flag_expr} & {WRITE_FLAGS_MASK}) != 0"
                parts.append(_generic_probe(sc, extra))
        elif name in wanted:
            maps += [f"@{m}" for m, _ in sc.save] + ["@in"]
            parts.append(_generic_probe(sc))
    for name, ptr in SOCKADDR_CALLS.items():
        if name in wanted:
            maps += ["@sa", "@sf", "@in", *(["@sb"] if buffers and name in BUFFER_CALLS else [])]
            parts.append(_sockaddr_probe(name, ptr, buffers))
    # every thread exit drops its map entries (no leak from killed threads); a process exit is reported
    cleanup = " ".join(f"delete({m}[tid]);" for m in dict.fromkeys(maps))
    report = ""
    if "procexit" in wanted:
        report = (f"if ({{PRED}} && pid == tid) {{ printf(\"procexit\\t{HEAD_FMT}\\n\", {HEAD_ARGS}, "
                  "(int64)(curtask->exit_code >> 8)); }")
    if cleanup or report:
        parts.append(f"tracepoint:sched:sched_process_exit {{\n  {cleanup}\n  {report}\n}}\n")
    return "\n".join(p.replace("{PRED}", pred) for p in parts)
