"""Behavioural baselines with real containers (issue 14): a small Python HTTP server in the Debian test image,
driven by requests, with a periodic job, learned by the real agent (eBPF sensor) until its quiet period promotes
it to monitor; then ten times the learning period of normal traffic gives no alert, and a new process, a write
to a new directory and a new outbound connection give exactly one deviation alert each; the baseline and mode
survive an agent restart; in protect mode a new process is killed within 200 ms. A seccomp profile learned from
the container lets the same server serve again while ptrace, mount and unshare fail with EPERM."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fixtures import env

from containerguard.runtime.baseline import name_pattern

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

IMAGE = "cg-test/pyhttp:1"
PREFIX = "cgb-"
QUIET_S = 4.0
PY_DEBS = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libexpat1", "libffi8",
           "media-types")

SERVER = r'''
import http.server, os, socket, subprocess, threading, time, urllib.parse
LOG = "/var/log/app"
os.makedirs(LOG, exist_ok=True)

def job():  # the periodic job: a child process and a log write every second
    while True:
        with open(f"{LOG}/job.log", "a") as out:
            subprocess.run(["/bin/date", "+%s"], stdout=out, check=False)
        time.sleep(1)

threading.Thread(target=job, daemon=True).start()

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/write":
            os.makedirs(os.path.dirname(q["path"]), exist_ok=True)
            with open(q["path"], "w") as fh:
                fh.write("x")
        elif url.path == "/connect":
            socket.create_connection((q["host"], int(q["port"])), timeout=3).close()
        else:
            with open(f"{LOG}/access.log", "a") as fh:
                fh.write(self.path + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''

PROBE = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(rc):
    return 0 if rc == 0 else ctypes.get_errno()
which = sys.argv[1]
if which == "ptrace":
    print(errno_of(libc.ptrace(0, 0, None, None)))  # PTRACE_TRACEME
elif which == "unshare":
    print(errno_of(libc.unshare(0x00020000)))  # CLONE_NEWNS
else:
    print(errno_of(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)))
'''


def python_image() -> str:
    """The Debian test image with Debian's python3.11 (its .debs from the configured mirror) and the server."""
    env.ensure_dockerd()
    base = env.debian_image()
    with env.machine_lock("pyhttp-image"):
        if not env.image_exists(IMAGE):
            ctx = env.CACHE / "pyhttp-ctx"
            shutil.rmtree(ctx, ignore_errors=True)
            ctx.mkdir(parents=True)
            subprocess.run(["apt-get", "download", *PY_DEBS], cwd=ctx, check=True, capture_output=True)
            (ctx / "server.py").write_text(SERVER)
            (ctx / "probe.py").write_text(PROBE)
            (ctx / "Dockerfile").write_text(
                f"FROM {base}\nCOPY *.deb /tmp/debs/\n"
                "RUN dpkg --force-depends -i /tmp/debs/*.deb >/dev/null 2>&1; rm -rf /tmp/debs; "
                "ln -sf /usr/bin/python3.11 /usr/bin/python3; python3 -c 'import http.server, ctypes'\n"
                "COPY server.py probe.py /srv/\nCMD [\"/usr/bin/python3\", \"-B\", \"/srv/server.py\"]\n")
            subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(ctx)], check=True, capture_output=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return IMAGE


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _ip(cid: str) -> str:
    return _docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid).stdout.strip()


def _get(ip: str, path: str = "/") -> int:
    return httpx.get(f"http://{ip}:8000{path}", timeout=5).status_code


def _serving(ip: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _get(ip) == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{ip}:8000 not serving")
        time.sleep(0.2)


class Traffic:
    """Normal requests every 0.3 s on a thread."""

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.stop = threading.Event()
        self.count = 0
        self.errors = 0
        self.last_error = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            try:
                if _get(self.ip, f"/?n={self.count}") == 200:
                    self.count += 1
                    continue
            except httpx.HTTPError as exc:  # a loaded shared host: count it, keep driving
                self.last_error = repr(exc)
            self.errors += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


class Agent:
    def __init__(self, tmp: Path, baseline_dir: Path) -> None:
        self.alerts = tmp / "alerts.jsonl"
        self.log = tmp / f"agent-{time.time_ns()}.log"
        cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only", "--output",
               f"file:{self.alerts}", "--baseline-dir", str(baseline_dir), "--baseline-quiet", str(QUIET_S)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), start_new_session=True)
        deadline = time.monotonic() + 120
        while "agent running" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"agent did not start: {self.log.read_text()}")
            time.sleep(0.2)

    def docs(self, container: str) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        out = [json.loads(x) for x in self.alerts.read_text().splitlines() if x.strip()]
        return [d for d in out if d.get("container_name") == container and str(d.get("rule_id", "")).startswith("CG-B")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _baselines(baseline_dir: Path) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "baseline", "list", "--format", "json",
                          "--baseline-dir", str(baseline_dir)], capture_output=True, text=True, check=True).stdout
    return [json.loads(x) for x in out.splitlines()]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", *args], capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")
    yield python_image()


def _wait(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_learn_monitor_deviations_restart_protect(image: str, tmp_path: Path) -> None:
    bdir = tmp_path / "baselines"
    name = f"{PREFIX}web-{os.getpid()}"
    peer = f"{PREFIX}peer-{os.getpid()}"
    agent = Agent(tmp_path, bdir)
    traffic: Traffic | None = None
    try:
        started = time.monotonic()
        cid = _docker("run", "-d", "--name", name, image).stdout.strip()
        pid = _docker("run", "-d", "--name", peer, image, "python3", "-B", "-m", "http.server", "9000").stdout.strip()
        ip = _ip(cid)
        _serving(ip)
        traffic = Traffic(ip)
        # learning: until the quiet period promotes the workload to monitor by itself
        pattern = name_pattern(name)
        _wait(lambda: any(b["name_pattern"] == pattern and b["mode"] == "monitor" for b in _baselines(bdir)), 90,
              "automatic promotion to monitor")
        learned_s = time.monotonic() - started
        assert agent.docs(name) == [], "no alert while learning"
        # normal traffic and the periodic job for ten times the learning period: no deviation
        normal = min(10 * learned_s, 120.0)
        time.sleep(normal)
        assert traffic.count > normal and traffic.errors <= traffic.count // 10, (traffic.count, traffic.last_error)
        assert agent.docs(name) == [], f"normal behaviour alerted: {agent.docs(name)}"

        # three new behaviours: exactly one alert each
        assert _docker("exec", name, "/usr/bin/sleep", "0.2").returncode == 0
        assert _get(ip, "/write?path=/srv/newdir/file.txt") == 200
        assert _get(ip, f"/connect?host={_ip(pid)}&port=9000") == 200
        _wait(lambda: len(agent.docs(name)) >= 3, 60, "three deviation alerts")
        time.sleep(2)
        docs = agent.docs(name)
        assert Counter(d["rule_id"] for d in docs) == {"CG-B001": 1, "CG-B002": 1, "CG-B003": 1}, docs
        by = {d["rule_id"]: d for d in docs}
        assert by["CG-B001"]["output_fields"]["baseline.entry"].startswith("/usr/bin/sleep|")
        assert by["CG-B002"]["output_fields"]["baseline.entry"] == "/srv/newdir"
        assert by["CG-B002"]["output_fields"]["baseline.nearest"]  # the known directories it is compared with
        assert by["CG-B003"]["output_fields"]["baseline.entry"].endswith(":9000")
        assert "nearest baseline entries" in by["CG-B001"]["output"] and by["CG-B001"]["priority"] == "Warning"

        # restart the agent mid-monitor: the baseline and the mode survive, and what was learned stays known (the
        # restarted agent reads the server from /proc, where the first one saw it started by a symbolic link)
        before = len(agent.docs(name))
        agent.stop()
        agent = Agent(tmp_path, bdir)
        (mine,) = [b for b in _baselines(bdir) if b["name_pattern"] == pattern]
        assert mine["mode"] == "monitor" and mine["entries"] > 5
        assert _get(ip, "/write?path=/opt/elsewhere/x") == 200
        _wait(lambda: len(agent.docs(name)) >= before + 1, 60, "a deviation after the restart")
        time.sleep(2.5)  # the periodic job runs twice more under the restarted agent
        assert [d["output_fields"]["baseline.entry"] for d in agent.docs(name)[before:]] == ["/opt/elsewhere"]

        # protect: a new process is killed within 200 ms of its exec
        res = _cli("baseline", "mode", mine["workload"], "protect", "--baseline-dir", str(bdir))
        assert res.returncode == 0, res.stderr
        time.sleep(2.5)  # the agent reloads edited baselines every second
        t0 = time.monotonic()
        res = _docker("exec", name, "/usr/bin/sleep", "30", check=False)
        assert res.returncode == 137 and time.monotonic() - t0 < 10, (res.returncode, res.stderr)
        _wait(lambda: any(d["rule_id"] == "CG-B001" and d["output_fields"]["baseline.mode"] == "protect"
                          for d in agent.docs(name)), 60, "the protect alert")
        kill = [d for d in agent.docs(name) if d["output_fields"].get("baseline.mode") == "protect"][-1]
        assert kill["priority"] == "Critical" and any(r.startswith("kill_process") and r.endswith(": ok")
                                                      for r in kill["responses"]), kill
        assert (kill["responded_ns"] - kill["event_time_ns"]) / 1e6 < 200
        assert _get(ip) == 200  # the server itself keeps serving
    finally:
        if traffic is not None:
            traffic.close()
        agent.stop()
        _docker("rm", "-f", name, peer, check=False)


def test_seccomp_profile_from_observed_syscalls(image: str, tmp_path: Path) -> None:
    name = f"{PREFIX}sc-{os.getpid()}"
    rerun = f"{PREFIX}sc-rerun-{os.getpid()}"
    free = f"{PREFIX}sc-free-{os.getpid()}"
    profile = tmp_path / "seccomp.json"
    try:
        _docker("run", "-d", "--name", name, image)
        ip = _ip(name)
        _serving(ip)
        proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "profile", "seccomp", name,
                                 "-o", str(profile), "--duration", "6", "--verify"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)  # bpftrace attaches; then exercise the server while it is observed
        for i in range(10):
            assert _get(ip, f"/?i={i}") == 200
            time.sleep(0.2)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "verify: running after" in err
        doc = json.loads(profile.read_text())
        assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and doc["defaultErrnoRet"] == 1
        assert doc["architectures"][0] == {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(
            platform.machine(), doc["architectures"][0])  # this host's (the names traced are its syscalls)
        allowed = set(doc["syscalls"][0]["names"])
        assert {"accept4", "openat", "execve"} <= allowed and not {"ptrace", "mount", "unshare"} & allowed

        # the same container re-run with the profile still serves; syscalls it never used fail with EPERM
        _docker("run", "-d", "--name", rerun, "--security-opt", f"seccomp={profile}", image)
        rip = _ip(rerun)
        _serving(rip)
        assert all(_get(rip, f"/?again={i}") == 200 for i in range(5))
        for call in ("ptrace", "mount", "unshare"):
            res = _docker("exec", rerun, "python3", "-B", "/srv/probe.py", call)
            assert res.stdout.strip() == "1", (call, res.stdout, res.stderr)  # EPERM
        # without the profile ptrace(TRACEME) succeeds: the EPERM above is the profile's
        _docker("run", "-d", "--name", free, "--security-opt", "seccomp=unconfined", image)
        res = _docker("exec", free, "python3", "-B", "/srv/probe.py", "ptrace")
        assert res.stdout.strip() == "0", res.stderr
    finally:
        _docker("rm", "-f", name, rerun, free, check=False)
