"""The agent under hostile conditions, through `containerguard agent` with real bpftrace and real containers:
outputs that stop reading, break or fill the disk; responses aimed at host processes; clean shutdown.

Each test runs one agent process with its own rules file (a marker rule per test, so alerts can be made at will),
an output file it can check and a health port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fixtures import env
from tests.integration.test_agent import _free_port, _need_root_tools

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

RULES = """
- rule: R2 host marker
  containerguard.id: CG-TEST-R2HOST
  desc: a process whose arguments carry the marker (host or container)
  condition: evt.type in (execve, execveat) and proc.args contains cg-r2-marker
  output: r2 marker seen (cmdline=%proc.cmdline container_id=%container.id)
  priority: CRITICAL
  tags: [test]
"""


class Agent:
    """One `containerguard agent` process with a file output, a health port and the given extra arguments."""

    def __init__(self, tmp: Path, *args: str, stdout: Any = subprocess.DEVNULL, alerts: Path | None = None) -> None:
        self.tmp = tmp
        self.alerts = alerts or tmp / "alerts.jsonl"
        self.log = tmp / "agent.log"
        (tmp / "rules.yaml").write_text(RULES)
        self.health = _free_port()
        cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--rules", str(tmp / "rules.yaml"),
               "--output", f"file:{self.alerts}", "--health-port", f"127.0.0.1:{self.health}",
               "--stats-interval", "1", *args]
        self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=self.log.open("wb"), start_new_session=True)
        deadline = time.monotonic() + 120
        while "agent running" not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def healthz(self) -> dict[str, Any]:
        return dict(httpx.get(f"http://127.0.0.1:{self.health}/healthz", timeout=5).json())

    def docs(self) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        return [json.loads(line) for line in self.alerts.read_text().splitlines()]

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for d in self.docs():
                if pred(d):
                    return d
            assert time.monotonic() < deadline, [d["rule"] for d in self.docs()][-20:]
            time.sleep(0.05)

    def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"the agent did not stop within {timeout} s of SIGTERM") from None
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _marker(tag: str) -> None:
    subprocess.run(["/bin/true", "cg-r2-marker", tag], check=True)


def test_host_process_is_killed_only_when_the_user_opted_in(tmp_path: Path) -> None:
    """`--respond kill_process:CRITICAL` answers container alerts; a CRITICAL alert about a host process (a host
    daemon matching a rule) must not kill it unless the user passed --respond-host, and the alert says why."""
    _need_root_tools()
    env.ensure_dockerd()
    code = "import sys, time; time.sleep(4)"
    a = Agent(tmp_path, "--respond", "kill_process:CRITICAL")
    try:
        t0 = time.time()
        r = subprocess.run([sys.executable, "-c", code, "cg-r2-marker", "host-no-optin"], timeout=30)
        doc = a.wait_for(lambda d: d["rule"] == "R2 host marker" and "host-no-optin" in d["output"])
        assert doc["container_id"] == "host"
        assert r.returncode == 0, "a host process was killed without --respond-host"
        assert time.time() - t0 >= 4
        assert len(doc["responses"]) == 1 and "refused" in doc["responses"][0] and "host process" in doc["responses"][0]
    finally:
        a.kill()
    (tmp_path / "optin").mkdir()
    b = Agent(tmp_path / "optin", "--respond", "kill_process:CRITICAL", "--respond-host")
    try:
        r = subprocess.run([sys.executable, "-c", code, "cg-r2-marker", "host-optin"], timeout=30)
        doc = b.wait_for(lambda d: d["rule"] == "R2 host marker" and "host-optin" in d["output"])
        assert r.returncode == -9, "--respond-host: the host process should have been killed"
        assert doc["responses"][0].startswith("kill_process ") and doc["responses"][0].endswith(": ok")
    finally:
        b.kill()


def test_a_stuck_then_broken_stdout_neither_blocks_detection_nor_the_shutdown(tmp_path: Path) -> None:
    """stdout is a pipe nobody reads (a log shipper that hangs): alerts keep reaching the file output at once;
    then the reader goes away (EPIPE): the agent keeps detecting, and SIGTERM stops it cleanly with exit 0."""
    _need_root_tools()
    env.ensure_dockerd()
    rfd, wfd = os.pipe()
    a = Agent(tmp_path, "--output", "stdout", stdout=wfd)
    os.close(wfd)
    try:
        # ~1 KB per alert: 300 alerts are several times what a pipe holds (64 KiB)
        for i in range(300):
            _marker(f"stuck-{i}")
        t0 = time.time()
        _marker("after-stuck")
        doc = a.wait_for(lambda d: "after-stuck" in d["output"], timeout=10)
        assert time.time() - t0 < 5, "a stdout nobody reads held up the other outputs"
        assert doc["event_time_ns"] / 1e9 >= t0 - 0.5
        os.close(rfd)  # the reader is gone: every write to stdout is now EPIPE
        for i in range(20):
            _marker(f"broken-{i}")
        a.wait_for(lambda d: "broken-19" in d["output"])
        h = a.healthz()
        assert h["output_dropped_by"]["stdout"] > 0, h
        assert h["status"] == "ok"
        # the drops are reported as an alert on the outputs that still work
        rep = a.wait_for(lambda d: d["rule_id"] == "CG-H003", timeout=10)
        assert rep["source"] == "internal" and rep["output_fields"]["outputs"]["stdout"] > 0
        rc, took = a.terminate()
        assert rc == 0, a.log.read_text()[-2000:]
        assert took < 15
        log = a.log.read_text()
        assert "Traceback" not in log and "BrokenPipeError" not in log, log[-3000:]
    finally:
        a.kill()


def test_file_output_on_a_full_disk_counts_drops_and_never_writes_half_a_line(tmp_path: Path) -> None:
    """The file output's file system fills up: alerts that do not fit are dropped and counted, the file holds only
    whole JSON lines, and once there is room again new alerts are written."""
    _need_root_tools()
    env.ensure_dockerd()
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mnt)], check=True)
    a = None
    try:
        alerts = mnt / "alerts.jsonl"
        filler = mnt / "filler"
        a = Agent(tmp_path, "--output", f"file:{tmp_path / 'other.jsonl'}", alerts=alerts)
        with open(filler, "wb") as fh:  # leave about 3 KB: two or three alerts fit, the next is cut by ENOSPC
            fh.write(b"x" * (128 * 1024 - 3000))
        for i in range(30):
            _marker(f"full-{i}")
        other = tmp_path / "other.jsonl"
        deadline = time.monotonic() + 15
        while "full-29" not in (other.read_text() if other.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        h = a.healthz()
        assert h["output_dropped_by"][f"file:{alerts}"] > 0, h
        lines = alerts.read_text().splitlines()
        assert len(lines) < 30
        for line in lines:  # whole lines only
            json.loads(line)
        rep = None
        deadline = time.monotonic() + 10
        while rep is None:
            rep = next((json.loads(x) for x in other.read_text().splitlines() if '"CG-H003"' in x), None)
            assert rep is not None or time.monotonic() < deadline
            time.sleep(0.1)
        assert rep["output_fields"]["outputs"][f"file:{alerts}"] > 0
        filler.unlink()  # room again
        _marker("room-again")
        a.wait_for(lambda d: "room-again" in d["output"])
        for line in alerts.read_text().splitlines():
            json.loads(line)
    finally:
        if a is not None:
            a.kill()
        subprocess.run(["umount", "-l", str(mnt)], check=False)
