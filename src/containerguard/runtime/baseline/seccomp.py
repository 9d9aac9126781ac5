"""Learned seccomp profiles: the syscalls a container was seen to use -> a Docker/OCI seccomp profile.

Observation: a short bpftrace program counts ``raw_syscalls:sys_enter`` in the kernel, per mount namespace and
syscall number (every process of a container shares its mount namespace, ``docker exec`` ones included), and
prints the counts once at the end; nothing per syscall reaches user space. A running container's start-up is
over before it can be observed, so a twin (same image, command, environment and user) is started while the
trace runs and its syscalls are added: start-up and the traffic the user drives meanwhile are both covered. Syscall numbers are named by
libseccomp (``seccomp_syscall_resolve_num_arch``, the library runc itself uses), with the kernel's
``unistd_64.h`` as the fallback.

The profile allows exactly the observed syscalls plus :data:`RUNTIME_START`: what runc needs between installing
the filter and the container's first instruction, and what the dynamic loader and libc do before ``main`` (a
running container's start happened before the observation). Everything else fails with EPERM
(``defaultAction: SCMP_ACT_ERRNO``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import platform
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from containerguard.errors import BaselineError

#: runc's hand-over (after the filter is loaded) and process start-up: loader, libc, threads, signals, stdio
RUNTIME_START: frozenset[str] = frozenset({
    # runc after seccomp_load: finish the namespace set-up, close fds, exec the entrypoint
    "execve", "execveat", "capget", "capset", "prctl", "setgid", "setgroups", "setuid", "setresuid",
    "setresgid", "chdir", "fchdir", "getcwd", "fstat", "newfstatat", "statx", "close", "close_range", "fcntl",
    "futex", "getpid", "getppid", "gettid", "write", "read", "exit", "exit_group", "nanosleep",
    "clock_nanosleep", "sched_yield", "tgkill", "kill", "fstatfs", "statfs", "umask", "setsid", "getsid",
    "getpgrp", "setpgid", "getpgid", "membarrier", "sched_getaffinity", "sched_setaffinity", "getrusage",
    "getpriority", "setpriority", "rt_sigtimedwait", "eventfd2", "epoll_pwait2",
    # dynamic loader and libc start-up
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "arch_prctl", "set_tid_address",
    "set_robust_list", "rseq", "prlimit64", "getrlimit", "access", "faccessat", "faccessat2", "openat",
    "open", "pread64", "lseek", "readlink", "readlinkat", "getrandom", "uname", "sysinfo", "ioctl",
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "getdents64", "dup", "dup2", "dup3", "pipe",
    "pipe2", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "clone", "clone3", "vfork",
    "wait4", "waitid", "clock_gettime", "gettimeofday", "time", "restart_syscall",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll", "select", "pselect6",
})

_MAP_LINE = re.compile(r"^@sc\[(\d+),\s*(\d+)\]:\s*(\d+)\s*$")
_UTS_LINE = re.compile(r"^@uts\[(\d+),\s*([^\]]*)\]:\s*\d+\s*$")
_UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
_DEFINE = re.compile(r"^#define __NR_(\w+)\s+(\d+)\s*$", re.M)


def _libseccomp() -> Any:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    fn = lib.seccomp_syscall_resolve_num_arch
    fn.argtypes = [ctypes.c_uint32, ctypes.c_int]
    fn.restype = ctypes.c_void_p
    return lib


def syscall_names(numbers: Iterable[int]) -> dict[int, str]:
    """Names of syscall numbers on this architecture (libseccomp, else the kernel headers)."""
    nums = sorted(set(numbers))
    out: dict[int, str] = {}
    lib = _libseccomp()
    if lib is not None:
        libc = ctypes.CDLL(None)
        for n in nums:
            ptr = lib.seccomp_syscall_resolve_num_arch(0, n)  # SCMP_ARCH_NATIVE
            if ptr:
                out[n] = ctypes.string_at(ptr).decode()
                libc.free(ctypes.c_void_p(ptr))
    missing = [n for n in nums if n not in out]
    if missing and _UNISTD.is_file():
        table = {int(num): name for name, num in _DEFINE.findall(_UNISTD.read_text())}
        out.update({n: table[n] for n in missing if n in table})
    return out


def trace_program(duration_s: int, *, by: str = "mnt") -> str:
    """The bpftrace program counting syscalls per namespace, in the kernel, for ``duration_s`` seconds.

    ``by="mnt"`` counts per mount namespace (a running container: every process of it, ``docker exec`` ones
    included, shares it). ``by="uts"`` counts per UTS namespace and also records each UTS namespace's host name
    at every exec: a container the command starts is found by the host name it was given, even when it exited
    before its namespaces could be looked up (a command that runs to completion in milliseconds).

    runc's own processes (``runc:[1:CHILD]``, ``runc:[2:INIT]`` setting the container up, before the filter is
    loaded and before the entrypoint's exec) are not counted: their mounts and namespace calls are not the
    workload's. Only runc's own names are left out: a workload program whose name merely starts with ``runc``
    (``runcron``) is the workload's, and a profile without its syscalls would stop it."""
    if by not in ("mnt", "uts"):
        raise BaselineError(f"cannot count syscalls per {by!r} namespace")
    ns = f"curtask->nsproxy->{by}_ns->ns.inum"
    names = (f"tracepoint:sched:sched_process_exec {{ @uts[{ns}, curtask->nsproxy->uts_ns->name.nodename] = count(); }}\n"
             if by == "uts" else "")
    return (f'BEGIN {{ printf("ready\\n"); }}\n'
            f"tracepoint:raw_syscalls:sys_enter /strncmp(comm, \"runc:[\", 6) != 0/ "
            f"{{ @sc[{ns}, args->id] = count(); }}\n"
            + names +
            f"interval:s:{int(duration_s)} {{ exit(); }}\n")


@dataclass
class Observation:
    """What a trace saw: syscall number -> count per namespace, and (``by="uts"``) each UTS namespace's host
    names."""

    counts: dict[int, dict[int, int]] = field(default_factory=dict)
    hostnames: dict[int, set[str]] = field(default_factory=dict)

    def namespaces_named(self, hostname: str) -> list[int]:
        """The UTS namespaces whose host name was ``hostname`` at some exec."""
        return [ns for ns, names in self.hostnames.items() if hostname in names]


def denied_program(hostname: str, errno: int, duration_s: int) -> str:
    """The bpftrace program counting, per UTS namespace, the syscalls that failed with ``errno`` in the container
    named ``hostname`` (a host name the caller chose: letters, digits and dashes). A syscall a seccomp filter
    refuses never reaches ``sys_enter``, but its ``sys_exit`` fires with the filter's error: counted here, a
    syscall the profile does not allow is one the profile refused (an allowed one may fail with the same error on
    its own)."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,63}", hostname):
        raise BaselineError(f"not a host name to trace by: {hostname!r}")
    ns = "curtask->nsproxy->uts_ns->ns.inum"
    return (f'BEGIN {{ printf("ready\\n"); }}\n'
            f'tracepoint:raw_syscalls:sys_exit /args->ret == -{int(errno)} && strncmp(comm, "runc:[", 6) != 0 && '
            f'curtask->nsproxy->uts_ns->name.nodename == "{hostname}"/ {{ @sc[{ns}, args->id] = count(); }}\n'
            f"interval:s:{int(duration_s)} {{ exit(); }}\n")


def observe(duration_s: int, *, bpftrace: str = "bpftrace", on_ready: Callable[[], None] | None = None,
            by: str = "mnt", stop: threading.Event | None = None, program: str | None = None) -> Observation:
    """Syscall counts per namespace over ``duration_s`` seconds, or until ``stop`` is set (needs root and
    bpftrace; the kernel's counts are printed once at the end, also when stopped early).

    ``on_ready`` runs once tracing is attached (start what must be observed from its first syscall then).
    ``program``: another bpftrace program printing the same maps (:func:`denied_program`).
    """
    try:
        proc = subprocess.Popen([bpftrace, "-e", program or trace_program(duration_s, by=by)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise BaselineError(f"cannot run {bpftrace}: {exc}") from None
    if stop is not None:
        def interrupt() -> None:
            stop.wait()
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGINT)  # bpftrace prints its maps and exits
        threading.Thread(target=interrupt, name="cg-seccomp-stop", daemon=True).start()
    obs = Observation()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.strip() == "ready" and on_ready is not None:
                on_ready()
            m = _MAP_LINE.match(line)
            if m:
                obs.counts.setdefault(int(m.group(1)), {})[int(m.group(2))] = int(m.group(3))
                continue
            m = _UTS_LINE.match(line.replace("\0", ""))
            if m:
                obs.hostnames.setdefault(int(m.group(1)), set()).add(m.group(2))
    except BaseException:  # on_ready failed (the container would not start): stop tracing now
        proc.kill()
        raise
    finally:
        err = proc.stderr.read() if proc.stderr is not None else ""
        rc = proc.wait()
        if stop is not None:
            stop.set()
    if rc != 0 and not (stop is not None and rc in (-signal.SIGINT, 128 + signal.SIGINT)):
        raise BaselineError(f"bpftrace failed ({rc}): {err.strip().splitlines()[-1] if err.strip() else 'no output'}")
    return obs


def named(counts: Iterable[dict[int, int]]) -> dict[str, int]:
    """Several namespaces' counts merged and named."""
    merged: dict[int, int] = {}
    for c in counts:
        for n, k in c.items():
            merged[n] = merged.get(n, 0) + k
    names = syscall_names(merged)
    return {names.get(n, f"syscall_{n}"): k for n, k in merged.items()}


def start_twin(api: Any, container: dict[str, Any], name: str) -> str:
    """Create and start a copy of ``container`` (image, command, environment, user) to observe its start-up."""
    cfg = container.get("Config") or {}
    created = api.create_container(
        image=cfg.get("Image"), command=cfg.get("Cmd"), entrypoint=cfg.get("Entrypoint"),
        environment=cfg.get("Env"), user=cfg.get("User") or None, working_dir=cfg.get("WorkingDir") or None,
        name=name, labels={"containerguard.profile-twin": "1"})
    api.start(created["Id"])
    return str(created["Id"])


#: the seccomp architectures of a machine (``uname -m``): its own, then those its kernel also runs, as in
#: Docker's default profile (archMap); the syscall names observed are this machine's
ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "arm64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "armv7l": ["SCMP_ARCH_ARM"],
    "ppc64le": ["SCMP_ARCH_PPC64LE"],
    "s390x": ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
    "riscv64": ["SCMP_ARCH_RISCV64"],
    "i686": ["SCMP_ARCH_X86"],
    "i386": ["SCMP_ARCH_X86"],
}


def seccomp_profile(observed: Iterable[str], *, errno: int = 1, machine: str | None = None) -> dict[str, Any]:
    """A Docker/OCI seccomp profile allowing ``observed`` plus :data:`RUNTIME_START`; the rest fails (EPERM).
    For this machine's architectures (``machine``: ``uname -m``, this host's by default); for a machine not in
    :data:`ARCHITECTURES` the list is empty, which the runtime (runc, crun) reads as the native one only."""
    arches = ARCHITECTURES.get(machine or platform.machine(), [])
    allowed = sorted({s for s in observed if not s.startswith("syscall_")} | RUNTIME_START)
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno,
        "architectures": list(arches),
        "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
    }


def create_run(api: Any, image: str, command: list[str] | None, hostname: str) -> str:
    """Create (not start) a container of ``image`` running its default entrypoint and command, or ``command``,
    with the host name the trace finds it by. Returns its id."""
    created = api.create_container(image=image, command=command or None, hostname=hostname,
                                   labels={"containerguard.profile-run": "1"})
    return str(created["Id"])


def verify(api: Any, container: dict[str, Any], profile: dict[str, Any], *, wait_s: float = 3.0,
           expect_exit: int | None = None, bpftrace: str = "bpftrace") -> tuple[bool, str]:
    """Re-run ``container`` (inspect JSON) from its image, config, command and capabilities with ``profile``, and
    trace the syscalls the profile refuses meanwhile.

    A container that was still running when observed must still run after ``wait_s`` seconds (or exit 0); one
    that ran to completion (``expect_exit``: its exit code) must finish with the same code (waiting up to
    ``10 * wait_s``). And in either case no syscall may have been refused: a workload that meets a refusal and
    carries on (logs it, retries, takes another path) is not confined as observed. Returns (whether all held,
    what happened). The re-run (its own host name, to be traced by; no volumes or published ports: it runs beside
    the original) is removed."""
    import secrets

    cfg = container.get("Config") or {}
    hc = container.get("HostConfig") or {}
    hostname = f"cg-verify-{secrets.token_hex(4)}"
    created = api.create_container(
        image=cfg.get("Image"), command=cfg.get("Cmd"), entrypoint=cfg.get("Entrypoint"),
        environment=cfg.get("Env"), user=cfg.get("User") or None, working_dir=cfg.get("WorkingDir") or None,
        hostname=hostname, labels={"containerguard.seccomp-verify": "1"},
        host_config=api.create_host_config(security_opt=[f"seccomp={json.dumps(profile)}"],
                                           cap_add=hc.get("CapAdd") or None, cap_drop=hc.get("CapDrop") or None))
    cid = created["Id"]
    outcome: list[tuple[bool, str]] = []
    stop = threading.Event()

    def run() -> None:
        try:
            outcome.append(_rerun(api, cid, wait_s, expect_exit))
        finally:
            stop.set()

    try:
        errno = int(profile.get("defaultErrnoRet") or 1)
        limit = int(wait_s * (1 if expect_exit is None else 10)) + 30
        obs = observe(limit, bpftrace=bpftrace, on_ready=run, stop=stop,
                      program=denied_program(hostname, errno, limit))
    finally:
        with contextlib.suppress(Exception):
            api.remove_container(cid, force=True)
    ok, what = outcome[0] if outcome else (False, "the re-run did not start")
    allowed = {n for rule in profile.get("syscalls", []) if rule.get("action") == "SCMP_ACT_ALLOW"
               for n in rule.get("names", [])}
    refused = named(obs.counts.values())
    refused = {n: k for n, k in refused.items() if n not in allowed}
    if refused:
        listed = ", ".join(f"{n} ({k})" for n, k in sorted(refused.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
        return False, f"the profile refused {listed} ({what})"
    return ok, what


def _rerun(api: Any, cid: str, wait_s: float, expect_exit: int | None) -> tuple[bool, str]:
    """Start the re-run and wait for it as :func:`verify` says."""
    import time

    try:
        api.start(cid)
    except Exception as exc:  # docker.errors.APIError: the runtime could not start it under the profile
        return False, f"could not start under the profile: {str(exc).splitlines()[0]}"
    deadline = time.monotonic() + (wait_s if expect_exit is None else 10 * wait_s)
    while True:
        time.sleep(min(wait_s, 0.2))
        state = api.inspect_container(cid)["State"]
        if not state.get("Running") or time.monotonic() >= deadline:
            break
    logs = api.logs(cid, tail=5).decode(errors="replace").strip()
    last = f": {logs.splitlines()[-1]}" if logs else ""
    if state.get("Running"):
        if expect_exit is None:
            return True, f"running after {wait_s:.0f} s under the profile"
        return False, f"still running under the profile after {10 * wait_s:.0f} s (it had exited with {expect_exit})"
    code = state.get("ExitCode")
    want = 0 if expect_exit is None else expect_exit
    return code == want, f"exited with code {code} under the profile (expected {want})" + ("" if code == want else last)
