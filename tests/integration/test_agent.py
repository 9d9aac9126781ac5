"""The runtime agent end to end: real dockerd, real bpftrace, real containers, the `containerguard agent` CLI.

One agent process serves the whole module (bpftrace takes seconds to attach); each test runs an attack
inside a real container with ``docker exec`` and waits for the alert line in the agent's output file,
checking the rule, the container id and image, and that it came within 1 s of the syscall.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fixtures import env

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

BUSYBOX_IMAGE = "cg-test/busybox:1.35"
LATENCY_LIMIT_S = 1.0

EXTRA_RULES = """
- rule: Test kill marker
  containerguard.id: CG-TEST-KILL
  desc: kills its container (exercises the kill_container response)
  condition: evt.type in (execve, execveat) and container.id != host and proc.args contains cg-kill-marker
  output: kill marker seen (cmdline=%proc.cmdline container_id=%container.id)
  priority: CRITICAL
  containerguard.actions: [kill_container]
  tags: [test]

- rule: Test host marker
  containerguard.id: CG-TEST-HOST
  desc: a host process (outside containers)
  condition: evt.type in (execve, execveat) and proc.args contains cg-host-marker
  output: host marker seen (cmdline=%proc.cmdline container_id=%container.id)
  priority: NOTICE
  tags: [test]
"""


def _need_root_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    if not shutil.which("bpftrace"):
        pytest.skip("bpftrace is not installed (scripts/setup)")


def busybox_image() -> str:
    """A tiny image with Debian's static busybox (nc with -e, sh) built with `docker build`."""
    env.ensure_dockerd()
    with env.machine_lock("busybox-image"):
        if not env.image_exists(BUSYBOX_IMAGE):
            ctx = env.CACHE / "busybox-ctx"
            ctx.mkdir(parents=True, exist_ok=True)
            shutil.copy2("/bin/busybox", ctx / "busybox")
            (ctx / "Dockerfile").write_text(
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                "CMD [\"/bin/sh\"]\n")
            subprocess.run(["docker", "build", "-q", "-t", BUSYBOX_IMAGE, str(ctx)], check=True,
                           capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return BUSYBOX_IMAGE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AgentRun:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.alerts = tmp / "alerts.jsonl"
        self.log = tmp / "agent.log"
        self.extra = tmp / "extra.yaml"
        self.extra.write_text(EXTRA_RULES)
        self.health = _free_port()
        self.audit = _free_port()
        from containerguard.runtime.rules import default_rules_path

        cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--rules", str(default_rules_path()),
               "--rules", str(self.extra), "--output", f"file:{self.alerts}", "--health-port",
               f"127.0.0.1:{self.health}", "--k8s-audit-listen", f"127.0.0.1:{self.audit}", "--stats-interval", "5",
               "--respond", "kill_process:CRITICAL", "--respond-host"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if "agent running" in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited: {self.log.read_text()}")
            time.sleep(0.2)
        raise AssertionError(f"agent did not start: {self.log.read_text()}")

    def healthz(self) -> dict[str, Any]:
        return dict(httpx.get(f"http://127.0.0.1:{self.health}/healthz", timeout=5).json())

    def docs(self) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        return [json.loads(line) for line in self.alerts.read_text().splitlines() if line.strip()]

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> tuple[dict[str, Any], float]:
        """The first alert matching ``pred`` and the wall time (epoch s) it was seen in the output file."""
        deadline = time.monotonic() + timeout
        while True:
            for d in self.docs():
                if pred(d):
                    return d, time.time()
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching alert within {timeout} s; have: "
                                     f"{[(d['rule'], d.get('container_id')) for d in self.docs()]}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    _need_root_tools()
    env.ensure_dockerd()
    subprocess.run(["bash", "scripts/services"], capture_output=True, cwd=Path(__file__).parents[2])
    run = AgentRun(tmp_path_factory.mktemp("agent"))
    yield run
    run.stop()


class Container:
    def __init__(self, image: str, *extra: str) -> None:
        self.id = subprocess.run(["docker", "run", "-d", "--rm", *extra, image, "sleep", "600"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        self.short = self.id[:12]
        self.image = image

    def exec(self, *cmd: str, check: bool = False) -> float:
        t0 = time.time()
        subprocess.run(["docker", "exec", self.id, *cmd], check=check, capture_output=True)
        return t0

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.id], capture_output=True)


@pytest.fixture(scope="module")
def debian(agent: AgentRun) -> Iterator[Container]:
    c = Container(env.debian_image(), "--network", "none", "--tmpfs", "/dev/shm:rw,exec,mode=1777")
    yield c
    c.remove()


@pytest.fixture(scope="module")
def unconfined(agent: AgentRun) -> Iterator[Container]:
    # Docker's default seccomp profile refuses mount and bpf before the syscall starts, and a syscall refused
    # by seccomp never reaches the syscall tracepoints: these attempts are only visible without that profile
    c = Container(env.debian_image(), "--network", "none", "--security-opt", "seccomp=unconfined")
    yield c
    c.remove()


@pytest.fixture(scope="module")
def busybox(agent: AgentRun) -> Iterator[Container]:
    c = Container(busybox_image(), "--network", "none")
    yield c
    c.remove()


def _check(agent: AgentRun, c: Container, rule: str, t0: float, extra: Callable[[dict[str, Any]], bool] = lambda d: True,
           ) -> dict[str, Any]:
    doc, seen = agent.wait_for(lambda d: d["rule"] == rule and d.get("container_id") == c.short and extra(d)
                               and d.get("event_time_ns", 0) / 1e9 >= t0 - 0.5)
    assert doc["image"] == c.image
    assert doc["source"] == "syscall"
    assert doc["hostname"]
    latency = seen - doc["event_time_ns"] / 1e9
    assert latency < LATENCY_LIMIT_S, f"{rule}: alert {latency:.3f} s after the syscall"
    return doc


def test_sensitive_file_read(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("cat", "/etc/shadow")
    doc = _check(agent, debian, "Sensitive file read in a container", t0)
    assert doc["output_fields"]["fd.name"] == "/etc/shadow"
    assert doc["output_fields"]["proc.name"] == "cat"
    assert doc["priority"] == "Warning"
    assert doc["time"].endswith("Z") and len(doc["time"].split(".")[1]) == 10  # RFC 3339 with ns


def test_write_below_etc(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("sh", "-c", "echo pwned > /etc/cg-test-written")
    doc = _check(agent, debian, "Write below a system directory in a container", t0)
    assert doc["output_fields"]["fd.name"] == "/etc/cg-test-written"
    of = doc["output_fields"]
    assert "O_WRONLY" in str(of.get("evt.arg.flags", of.get("evt.arg[flags]")))


def test_shell_from_non_shell_parent(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("perl", "-e", 'system("/bin/sh", "-c", "true")')
    doc = _check(agent, debian, "Shell spawned by a non-shell program in a container", t0,
                 lambda d: d["output_fields"].get("proc.pname") == "perl")
    assert doc["output_fields"]["proc.name"] == "sh"


def test_package_manager(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("apt-get", "--version")
    doc = _check(agent, debian, "Package manager run in a container", t0)
    assert doc["output_fields"]["proc.cmdline"] == "apt-get --version"


def test_drift_binary_copied_and_run(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("sh", "-c", "cp /bin/ls /tmp/cg-drift && /tmp/cg-drift / >/dev/null")
    doc = _check(agent, debian, "New executable run from the container's writable layer", t0)
    assert doc["output_fields"]["proc.exepath"] == "/tmp/cg-drift"
    # an image binary is not drift
    debian.exec("/bin/ls", "/")
    time.sleep(0.5)
    assert not [d for d in agent.docs() if d["rule"].startswith("New executable")
                and d["output_fields"].get("proc.exepath") == "/bin/ls"]


def test_exec_from_dev_shm(agent: AgentRun, debian: Container) -> None:
    t0 = debian.exec("sh", "-c", "cp /bin/true /dev/shm/cg-shm && /dev/shm/cg-shm")
    doc = _check(agent, debian, "Program executed from /dev/shm", t0)
    assert doc["output_fields"]["proc.exepath"] == "/dev/shm/cg-shm"


def test_netcat_reverse_shell(agent: AgentRun, busybox: Container) -> None:
    # busybox nc takes its options after the address
    t0 = busybox.exec("sh", "-c", "nc -l -p 4445 >/dev/null 2>&1 & sleep 0.3; "
                      "echo exit | nc 127.0.0.1 4445 -e /bin/sh; true")
    doc = _check(agent, busybox, "Netcat or socat reverse shell", t0)
    assert doc["output_fields"]["proc.name"] == "nc"
    assert "-e /bin/sh" in doc["output_fields"]["proc.cmdline"]


def test_connect_to_mining_port(agent: AgentRun, busybox: Container) -> None:
    t0 = busybox.exec("sh", "-c", "nc -l -p 3333 >/dev/null 2>&1 & sleep 0.3; echo hi | nc 127.0.0.1 3333; true")
    doc = _check(agent, busybox, "Outbound connection to a cryptocurrency mining port", t0)
    assert doc["output_fields"]["fd.sport"] == 3333
    assert doc["output_fields"]["fd.sip"] == "127.0.0.1"


@pytest.mark.parametrize(("rule", "cmd", "field", "value"), [
    ("Packet socket created in a container", ["perl", "-e", "socket(my $s, 17, 3, 768) or die $!"],
     "evt.arg.domain", "AF_PACKET"),
    ("Process attached with ptrace in a container",
     ["perl", "-e", "$p = fork; if (!$p) { sleep 5; exit } syscall(101, 16, $p, 0, 0); kill 9, $p"],
     "evt.arg.request", "PTRACE_ATTACH"),
    ("Filesystem mounted from a container",  # refused (no CAP_SYS_ADMIN), still an attempt worth an alert
     ["perl", "-e", 'my ($d, $m, $t) = ("/dev/vda1", "/mnt", "ext4"); syscall(165, $d, $m, $t, 0, 0)'],
     "evt.arg.dir", "/mnt"),
    ("BPF program loaded from a container", ["perl", "-e", "syscall(321, 5, 0, 0)"], "evt.arg.cmd", "BPF_PROG_LOAD"),
    ("Log files cleared", ["rm", "-f", "/var/log/dpkg.log"], "fs.path.name", "/var/log/dpkg.log"),
    ("Crontab modified", ["sh", "-c", "mkdir -p /etc/cron.d && echo '* * * * * root id' > /etc/cron.d/cg-evil"],
     "fd.name", "/etc/cron.d/cg-evil"),
    ("SSH authorized_keys modified", ["sh", "-c", "mkdir -p /root/.ssh && echo ssh-ed25519 AAAA >> /root/.ssh/authorized_keys"],
     "fd.name", "/root/.ssh/authorized_keys"),
])
def test_more_attacks(agent: AgentRun, unconfined: Container, rule: str, cmd: list[str], field: str,
                      value: str) -> None:
    assert rule in {r["name"] for r in _rules()}, f"the default ruleset has no rule {rule!r}"
    t0 = unconfined.exec(*cmd)
    doc = _check(agent, unconfined, rule, t0)
    of = doc["output_fields"]
    arg = field.removeprefix("evt.arg.")
    shown = [of[k] for k in (field, f"evt.arg[{arg}]") if k in of]
    if shown:  # when the rule's output prints the field; its condition checks it either way
        assert value in shown, of


def _rules() -> list[dict[str, Any]]:
    from containerguard.runtime.rules import default_rules_path, load_rules

    return [{"name": r.name} for r in load_rules([default_rules_path()]).rules]


def test_benign_activity_gives_no_alert(agent: AgentRun, debian: Container, busybox: Container) -> None:
    time.sleep(1.0)  # let earlier tests' alerts land
    before = {id(d): d for d in agent.docs()}
    n_before = len(before)
    for c in (debian, busybox):
        c.exec("ls", "/")
        c.exec("sleep", "0.2")
        c.exec("cat", "/etc/hostname")
    time.sleep(1.5)
    new = agent.docs()[n_before:]
    mine = [d for d in new if d.get("container_id") in (debian.short, busybox.short)]
    assert mine == [], mine


def test_host_event_is_attributed_to_host(agent: AgentRun) -> None:
    t0 = time.time()
    subprocess.run(["/bin/true", "cg-host-marker"], check=True)
    doc, seen = agent.wait_for(lambda d: d["rule"] == "Test host marker" and d["event_time_ns"] / 1e9 >= t0 - 0.5)
    assert doc["container_id"] == "host"
    assert seen - doc["event_time_ns"] / 1e9 < LATENCY_LIMIT_S


def test_fileless_exec_from_memfd_on_the_host(agent: AgentRun) -> None:
    code = ("import os; fd = os.memfd_create('cg-payload', 0); os.write(fd, open('/bin/sleep', 'rb').read()); "
            "os.execv(f'/proc/self/fd/{fd}', ['cg-payload', '1'])")
    t0 = time.time()
    r = subprocess.run([sys.executable, "-c", code])
    doc, seen = agent.wait_for(lambda d: d["rule"] == "Fileless execution from a memfd"
                               and d["event_time_ns"] / 1e9 >= t0 - 0.5)
    assert doc["output_fields"]["proc.exepath"] == "memfd:cg-payload"
    assert doc["container_id"] == "host"
    assert r.returncode == -9  # CRITICAL: --respond kill_process:CRITICAL killed it before its 1 s sleep ended
    assert any(x.startswith("kill_process ") and x.endswith(": ok") for x in doc["responses"])
    assert seen - doc["event_time_ns"] / 1e9 < LATENCY_LIMIT_S


def test_kill_container_response(agent: AgentRun) -> None:
    c = Container(env.debian_image(), "--network", "none")
    try:
        t0 = c.exec("sh", "-c", "true cg-kill-marker")
        doc = _check(agent, c, "Test kill marker", t0)
        # the rule's own action, plus kill_process from --respond kill_process:CRITICAL (sh may be gone already)
        assert f"kill_container {c.short}: ok" in doc["responses"]
        assert doc["responses"][0].startswith("kill_process")
        deadline = time.monotonic() + 5
        running = "true"
        while time.monotonic() < deadline:
            r = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", c.id], capture_output=True, text=True)
            running = r.stdout.strip() if r.returncode == 0 else "gone"
            if running != "true":
                break
            time.sleep(0.1)
        assert running != "true", "the container still runs after the kill_container response"
    finally:
        c.remove()


def test_container_started_with_docker_socket(agent: AgentRun) -> None:
    # (--privileged cannot start on these machines: runc is refused the capabilities; the rule for it is
    # exercised through the same `container` event by the rules engine's own tests)
    t0 = time.time()
    c = Container(busybox_image(), "--network", "none", "-v", "/var/run/docker.sock:/var/run/docker.sock")
    try:
        doc, seen = agent.wait_for(lambda d: d["rule"] == "Docker socket mounted into a container"
                                   and d["container_id"] == c.short)
        assert doc["image"] == c.image and seen - t0 < 5
        assert "/var/run/docker.sock" in str(doc["output_fields"])
    finally:
        c.remove()


def test_respond_kill_process_by_priority(agent: AgentRun, debian: Container) -> None:
    # drift is CRITICAL: --respond kill_process:CRITICAL kills the 30 s sleeper right after its exec
    t0 = time.time()
    r = subprocess.run(["docker", "exec", debian.id, "sh", "-c",
                        "cp /bin/sleep /tmp/cg-sleeper && /tmp/cg-sleeper 30; echo rc=$?"],
                       capture_output=True, text=True, timeout=60)
    elapsed = time.time() - t0
    doc = _check(agent, debian, "New executable run from the container's writable layer", t0,
                 lambda d: d["output_fields"].get("proc.exepath") == "/tmp/cg-sleeper")
    assert any(x.startswith("kill_process ") and x.endswith(": ok") for x in doc["responses"]), doc["responses"]
    assert r.stdout.strip() == "rc=137", r.stdout  # 128 + SIGKILL
    assert elapsed < 10


def test_k8s_audit_endpoint(agent: AgentRun) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "evil", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": "a-1",
             "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods", "verb": "create",
             "user": {"username": "mallory", "groups": ["system:authenticated"]},
             "objectRef": {"resource": "pods", "namespace": "default", "name": "evil", "apiVersion": "v1"},
             "responseStatus": {"code": 201}, "requestObject": pod,
             "requestReceivedTimestamp": "2026-11-27T10:00:00.000000Z",
             "stageTimestamp": "2026-11-27T10:00:00.100000Z",
             "annotations": {"authorization.k8s.io/decision": "allow"}}
    url = f"http://127.0.0.1:{agent.audit}/k8s-audit"
    r = httpx.post(url, json={"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event]}, timeout=5)
    assert r.status_code == 200 and r.json() == {"events": 1}
    doc, _ = agent.wait_for(lambda d: d["rule"] == "Privileged pod created")
    assert doc["source"] == "k8s_audit"
    r = httpx.post(url, json=[event, event], timeout=5)  # a bare JSON array, as some webhook senders do
    assert r.json() == {"events": 2}
    bad = httpx.post(url, content=b"{not json", timeout=5)
    assert bad.status_code == 400 and "\n" not in bad.json()["error"] and bad.json()["error"]
    huge = httpx.post(url, content=b"[" + b" " * (17 << 20) + b"]", timeout=30)
    assert huge.status_code == 413
    h = agent.healthz()
    assert h["audit_events"] >= 3 and h["audit_rejected"] >= 2


def test_sighup_keeps_last_good_ruleset(agent: AgentRun, debian: Container) -> None:
    good = agent.extra.read_text()
    try:
        agent.extra.write_text("- rule: broken\n  condition: evt.type = (\n  output: x\n  priority: NOTICE\n")
        os.kill(agent.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while agent.healthz()["rule_reload_errors"] < 1:
            assert time.monotonic() < deadline, "reload error not reported"
            time.sleep(0.2)
        h = agent.healthz()
        assert "extra.yaml" in h["last_rule_error"]
        t0 = debian.exec("cat", "/etc/shadow")  # still detecting with the previous rules
        _check(agent, debian, "Sensitive file read in a container", t0)
    finally:
        agent.extra.write_text(good)
        os.kill(agent.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while agent.healthz()["rule_reloads"] < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert agent.healthz()["rule_reloads"] >= 1


def test_sensor_killed_is_restarted_and_gap_reported(agent: AgentRun, debian: Container) -> None:
    h = agent.healthz()
    pid = h["sensor_pid"]
    assert pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        h = agent.healthz()
        if h["sensor_restarts"] >= 1 and h["sensor_pid"] and h["sensor_pid"] != pid:
            break
        assert time.monotonic() < deadline, f"sensor not restarted: {h}"
        time.sleep(0.3)
    doc, _ = agent.wait_for(lambda d: d["rule"] == "Sensor restarted")
    assert doc["source"] == "internal" and doc["output_fields"]["gap_seconds"] > 0
    assert "lost" in doc["output"]
    t0 = debian.exec("cat", "/etc/shadow")
    _check(agent, debian, "Sensitive file read in a container", t0)


def test_health_counters(agent: AgentRun) -> None:
    h = agent.healthz()
    assert h["status"] == "ok"
    assert h["events"] > 0 and h["alerts"] >= 8
    for key in ("dropped", "parse_errors", "sensor_restarts", "output_dropped", "containers", "processes"):
        assert isinstance(h[key], int)
    assert h["docker_connected"] is True


def _forged_line(c: Container, path: str) -> str:
    """A complete sensor line (an openat for write of ``path`` by the container's init) as a file name could carry it."""
    pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", c.id], check=True, capture_output=True,
                             text=True).stdout)
    mntns = os.stat(f"/proc/{pid}/ns/mnt").st_ino
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return f"openat\t{now}\t{pid}\t{pid}\t0\t0\t0\t{mntns}\t0\t0\tcgforged\t3\t577\t420\t-100\t{path}"


@pytest.mark.parametrize("sep", ["\n", "\n\n", "\t", "\t\n", "\\n\\"])
def test_names_with_line_breaks_neither_hide_nor_forge_events(agent: AgentRun, debian: Container, sep: str) -> None:
    """Whoever runs in a container chooses file and program names: a newline or tab in one must not end the sensor's
    record early or shift its fields (a read of /etc/shadow through a directory so named was cut at the newline, or
    dropped, and missed), nor start a record of its own (a name holding a whole sensor line was taken for an event)."""
    tag = "cg" + "".join(f"{ord(c):02x}" for c in sep)
    forged = f"/etc/cg-forged-{tag}"
    bait = f"/tmp/x{sep}{_forged_line(debian, forged)}"
    t0 = time.time()
    debian.exec("sh", "-c", 'mkdir -p "$1" && cat "$1/../../etc/shadow" > /dev/null; : > "$2"; cat "$2"',
                "sh", f"/tmp/{tag}{sep}dir", bait)
    # the program's own name (comm, which the kernel prints in every record) set to the same bytes
    debian.exec("perl", "-e", '$0 = $ARGV[0]; open(my $f, "<", "/etc/shadow") or die', f"c{sep}{tag}")
    doc = _check(agent, debian, "Monitored file read through a path traversal", t0,
                 lambda d: tag in str(d["output_fields"].get("fd.nameraw", "")))
    assert doc["output_fields"]["fd.name"] == "/etc/shadow"
    assert doc["output_fields"]["fd.nameraw"] == f"/tmp/{tag}{sep}dir/../../etc/shadow"
    doc = _check(agent, debian, "Sensitive file read in a container", t0,
                 lambda d: d["output_fields"].get("proc.name") == f"c{sep}{tag}")
    assert doc["output_fields"]["fd.name"] == "/etc/shadow"
    time.sleep(1.5)
    assert not [d for d in agent.docs() if forged in json.dumps(d)], "a file name was taken for a sensor line"
