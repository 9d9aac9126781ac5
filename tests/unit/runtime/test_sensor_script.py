"""The generated bpftrace program: only the probes the rules need; it compiles with the real bpftrace."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from containerguard.runtime.sensor import script


def test_only_needed_probes() -> None:
    prog = script.generate({"connect"})
    assert "sys_exit_connect" in prog and "sys_exit_execve" in prog and "sched_process_exit" in prog
    assert "sys_exit_ptrace" not in prog and "sys_exit_mount" not in prog
    # without open rules, opens are still traced for drift bookkeeping, but only writes (filtered in the kernel)
    assert "sys_enter_openat /" in prog and "& 579) != 0" in prog
    full = script.generate({"openat", "ptrace"})
    assert "& 579) != 0" not in full and "sys_exit_ptrace" in full


def test_thread_exit_cleans_every_per_thread_map() -> None:
    import re

    prog = script.generate(script.ALL_EVENT_TYPES)
    saved = set(re.findall(r"(@\w+)\[tid\] = ", prog))
    exit_probe = prog[prog.index("tracepoint:sched:sched_process_exit"):]
    deleted = set(re.findall(r"delete\((@\w+)\[tid\]\)", exit_probe.split("}")[0]))
    assert saved and saved == deleted


def test_filters_and_availability() -> None:
    prog = script.generate({"openat"}, exclude_pids=[4242], host_mntns=4026531832, containers_only=True,
                           available={"openat", "execve"})
    assert "pid != 4242" in prog and "ns.inum != 4026531832" in prog
    assert "execveat" not in prog
    assert script.unavailable({"finit_module", "openat"}, {"openat"}) == ["finit_module"]
    assert script.unavailable({"finit_module"}, None) == []


@pytest.mark.ebpf
def test_program_with_every_event_type_compiles(tmp_path: Path) -> None:
    if not shutil.which("bpftrace") or os.geteuid() != 0:
        pytest.skip("needs bpftrace and root")
    subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], capture_output=True)
    avail = script.available_syscalls()
    prog = tmp_path / "all.bt"
    prog.write_text(script.generate(script.ALL_EVENT_TYPES, exclude_pids=[1], available=avail))
    r = subprocess.run(["bpftrace", "--emit-elf", str(tmp_path / "all.o"), str(prog)], capture_output=True,
                       text=True, env={**os.environ, "BPFTRACE_STRLEN": str(script.STRLEN)}, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "all.o").stat().st_size > 0


@pytest.mark.ebpf
def test_supervisor_reports_a_program_that_does_not_start() -> None:
    if not shutil.which("bpftrace") or os.geteuid() != 0:
        pytest.skip("needs bpftrace and root")
    from containerguard.errors import RuntimeSensorError
    from containerguard.runtime.sensor.bpftrace import BpftraceSensor

    s = BpftraceSensor("tracepoint:syscalls:sys_enter_nosuchcall { printf(\"x\\n\"); }", lambda line: None,
                       max_backoff=0.2)
    with pytest.raises(RuntimeSensorError, match="failed to start"):
        s.start(wait_ready=60)


@pytest.mark.ebpf
def test_supervisor_restarts_a_dying_sensor_and_reports_the_gap() -> None:
    if not shutil.which("bpftrace") or os.geteuid() != 0:
        pytest.skip("needs bpftrace and root")
    import signal
    import time

    from containerguard.runtime.sensor.bpftrace import BpftraceSensor

    gaps: list[tuple[float, int]] = []
    lines: list[str] = []
    s = BpftraceSensor('BEGIN { printf("ready\\n"); }', lines.append, on_restart=lambda g, n: gaps.append((g, n)),
                       max_backoff=0.2)
    s.start()
    try:
        first = s.pid
        assert first is not None
        time.sleep(1.0)  # nothing printed after "ready": the blind window opens with that last line
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not gaps and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gaps and gaps[0][1] == 1
        # counted from the last line before the failure, not from when the exit was noticed
        assert gaps[0][0] >= 1.0, gaps
        assert s.pid not in (None, first) and s.restarts == 1
        assert lines.count("ready\n") == 2
    finally:
        s.stop()
