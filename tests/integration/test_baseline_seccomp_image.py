"""`containerguard profile seccomp IMAGE` (issue 14) with the real engine and eBPF: the command starts a container
of the image (its default command, or the one after --), observes it from its first syscall until it exits or
--duration ends, writes the profile and, with --verify, re-runs it under the profile. The Debian test image
re-run with the profile does its job, and a syscall its command never used (mkdir) fails with EPERM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fixtures import env
from tests.integration.test_baseline import _docker, _get, _ip, _serving, python_image

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

SCRIPT = "ls / >/dev/null; cat /etc/os-release >/dev/null; echo profiled-ok"


@pytest.fixture(scope="module", autouse=True)
def _root() -> None:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")


def _profile(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", "profile", "seccomp", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def _leftovers() -> list[str]:
    return _docker("ps", "-aq", "--filter", "label=containerguard.profile-run").stdout.split()


def test_image_run_to_completion_is_profiled_and_confined(tmp_path: Path) -> None:
    image = env.debian_image()
    out = tmp_path / "debian.json"
    before = set(_leftovers())
    t0 = time.monotonic()
    res = _profile(image, "-o", str(out), "--duration", "60", "--verify", "--", "/bin/sh", "-c", SCRIPT)
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - t0 < 45, "the trace ends when the container exits, not after --duration"
    assert "exited with code 0" in res.stderr and "verify: exited with code 0 under the profile" in res.stderr
    assert set(_leftovers()) <= before  # the observed run was removed
    doc = json.loads(out.read_text())
    allowed = set(doc["syscalls"][0]["names"])
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and {"execve", "getdents64", "openat"} <= allowed
    assert not {"mkdir", "mkdirat", "ptrace", "mount"} & allowed

    run = ["run", "--rm", "--security-opt", f"seccomp={out}", image]
    assert _docker(*run, "/bin/sh", "-c", SCRIPT).stdout.strip() == "profiled-ok"
    res = _docker(*run, "mkdir", "/made", check=False)
    assert res.returncode == 1 and "Operation not permitted" in res.stderr, res.stderr
    assert _docker("run", "--rm", image, "mkdir", "/made", check=False).returncode == 0  # the profile's EPERM


def test_image_default_command_for_a_duration(tmp_path: Path) -> None:
    image = python_image()  # CMD: the HTTP server
    out = tmp_path / "pyhttp.json"
    before = set(_leftovers())
    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "profile", "seccomp", image, "-o",
                             str(out), "--duration", "10", "--verify"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:  # exercise the run the command started while it is observed
        deadline = time.monotonic() + 60
        while not ((runs := set(_leftovers()) - before) and (ip := _ip(next(iter(runs))))):  # created, then started
            assert time.monotonic() < deadline and proc.poll() is None, "the observed run did not start"
            time.sleep(0.2)
        _serving(ip)
        assert all(_get(ip, f"/?traced={i}") == 200 for i in range(5))
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "still running at the end of the trace" in err and "verify: running after" in err
    allowed = set(json.loads(out.read_text())["syscalls"][0]["names"])
    assert {"bind", "listen", "accept4"} <= allowed and "ptrace" not in allowed
    name = f"cgbs-rerun-{os.getpid()}"
    try:
        _docker("run", "-d", "--name", name, "--security-opt", f"seccomp={out}", image)
        ip = _ip(name)
        _serving(ip)
        assert _get(ip, "/?under=profile") == 200
    finally:
        _docker("rm", "-f", name, check=False)


def test_bad_targets_are_one_line_errors(tmp_path: Path) -> None:
    res = _profile("cg-test/no-such-image:0", "-o", str(tmp_path / "x.json"))
    assert res.returncode == 2 and res.stderr.strip() == "error: no such container or image: cg-test/no-such-image:0"
    assert not (tmp_path / "x.json").exists()


def test_a_workload_program_named_like_the_runtime_is_profiled(tmp_path: Path) -> None:
    """Only runc's own processes (runc:[1:CHILD], runc:[2:INIT]) are left out of the count: a program of the
    workload whose name starts with "runc" does its job under the profile, and --verify agrees."""
    image = env.debian_image()
    out = tmp_path / "runc-named.json"
    script = "cp /bin/mkdir /tmp/runcjob && /tmp/runcjob /tmp/made && echo made"
    res = _profile(image, "-o", str(out), "--duration", "60", "--verify", "--", "/bin/sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert "verify: exited with code 0 under the profile" in res.stderr
    allowed = set(json.loads(out.read_text())["syscalls"][0]["names"])
    assert {"mkdir", "mkdirat"} & allowed, sorted(allowed)
    res2 = _docker("run", "--rm", "--security-opt", f"seccomp={out}", image, "/bin/sh", "-c", script, check=False)
    assert res2.returncode == 0 and res2.stdout.strip() == "made", res2.stderr


def test_verify_fails_when_the_rerun_meets_a_refusal_and_carries_on(tmp_path: Path) -> None:
    """--verify traces the syscalls the profile refuses during the re-run: a workload that does something under
    verification it did not do when observed, meets EPERM and carries on (exit code unchanged, still running) is
    reported, the refused syscall named, and the command fails. Here the workload keys its extra step on its host
    name, which the re-run has its own of (cg-verify-...); a real one would on time, input or a retry path."""
    image = env.debian_image()
    out = tmp_path / "differs.json"
    script = 'case "$(hostname)" in cg-verify-*) mkdir /tmp/only-when-verified 2>/dev/null;; esac; echo done'
    res = _profile(image, "-o", str(out), "--duration", "60", "--verify", "--", "/bin/sh", "-c", script)
    assert res.returncode == 2, res.stderr
    allowed = set(json.loads(out.read_text())["syscalls"][0]["names"])
    assert not {"mkdir", "mkdirat"} & allowed  # the observed run never made a directory
    verdict = [line for line in res.stderr.splitlines() if line.startswith("verify:")]
    assert len(verdict) == 1 and "the profile refused mkdir" in verdict[0], res.stderr
    assert "(exited with code 0 under the profile (expected 0))" in verdict[0], res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: the profile does not let "), res.stderr
    assert _docker("ps", "-aq", "--filter", "label=containerguard.seccomp-verify").stdout.split() == []
