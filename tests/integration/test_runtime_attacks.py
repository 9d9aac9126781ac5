"""Detection depth (#10) end to end: an attack set modelled on falcosecurity/event-generator's actions, run in real
containers of the Debian test image with a static busybox, under the real agent (real bpftrace, real dockerd).

Each run of the set starts a fresh container and runs every action in it; the test asserts that each attack class
is detected by the right rule, attributed to that container and image, on every one of ``RUNS`` runs (no flaky
detection). The same set under the upstream Falco stable rules only (read unmodified from ../shared/falco-rules)
fires every upstream rule that applies. A benign workload (an entrypoint script starting a small HTTP server,
requests to it, shell scripts, log rotation) gives no alert.

The actions are our own (shell, busybox applets, perl one-liners from Debian's perl-base); containers run with
``--network none``: every connection goes to the container's own loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures import env

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

IMAGE = "cg-test/debian-busybox:2"
RUNS = int(os.environ.get("CG_ATTACK_RUNS", "10"))  # the issue asks for 10 runs in a row

#: one shell script, the whole attack set; each line is one action (event-generator's names in the comments)
ATTACKS = r"""
cd /tmp
# syscall.NetcatRemoteCodeExecutionInContainer / RedirectStdinStdoutToNetworkConnection: busybox nc -e
echo exit | busybox nc -l -p 4444 >/dev/null 2>&1 &
sleep 0.3
busybox nc 127.0.0.1 4444 -e /bin/sh
wait
# the same through a symlinked applet (nc -> busybox)
ln -sf /usr/local/bin/busybox /tmp/nc
echo exit | busybox nc -l -p 4445 >/dev/null 2>&1 &
sleep 0.3
/tmp/nc 127.0.0.1 4445 -e /bin/sh
wait
# syscall.ReadSensitiveFileUntrusted / DirectoryTraversalMonitoredFileRead: a path trick
cat /etc/../../etc/shadow >/dev/null
# ... and as a web application does it (not a shell's child: upstream excludes those)
perl -e 'if (fork == 0) { open(my $f, "<", "/srv/www/../../etc/../etc/shadow"); exit 0 } wait'
# syscall.CreateHardlinkOverSensitiveFiles / CreateSymlinkOverSensitiveFiles
ln /etc/shadow /tmp/cg-hard
ln -s /etc/shadow /tmp/cg-soft
# syscall.ClearLogActivities: O_TRUNC through the shell, and truncate(1) (open + ftruncate)
: > /var/log/dpkg.log
busybox truncate -s 0 /var/log/alternatives.log
# syscall.SearchPrivateKeysOrPasswords / FindAwsCredentials
grep -rl "BEGIN OPENSSH PRIVATE" /etc/ssh /root 2>/dev/null
find /root -maxdepth 2 -name id_rsa
grep -ri aws_secret_access_key /root 2>/dev/null
# syscall.RemoveBulkDataFromDisk
head -c 4096 /dev/zero > /tmp/cg-data && shred -u /tmp/cg-data
# reading another process's environment
cat /proc/1/environ >/dev/null
# syscall.ExecutionFromDevShm
cp /bin/true /dev/shm/cg-shm && /dev/shm/cg-shm
# syscall.DropAndExecuteNewBinaryInContainer
cp /bin/true /tmp/cg-dropped && /tmp/cg-dropped
# syscall.FilelessExecutionViaMemfdCreate: /bin/true copied into a memfd and executed from it (exits at once)
perl -e 'my $n = "cg-payload"; my $fd = syscall(319, $n, 0); open(my $in, "<:raw", "/bin/true") or die; my $data = do { local $/; <$in> }; open(my $out, ">&=", $fd) or die; binmode $out; syswrite($out, $data); exec {"/proc/self/fd/$fd"} "cg-payload" or die "exec: $!"'
# syscall.PtraceAntiDebugAttempt
perl -e 'syscall(101, 0, 0, 0, 0)'
# syscall.PacketSocketCreatedInContainer
perl -e 'socket(my $s, 17, 3, 0)'
exit 0
"""

#: attack class -> the default rule that must report it (with the field that must show the attack)
DEFAULT_EXPECT: dict[str, tuple[str, str, Any]] = {
    "busybox nc -e": ("Netcat or socat reverse shell", "proc.name", "nc"),
    "reverse shell by behaviour": ("Shell with a network socket for its standard input or output", "proc.stdin.type",
                                   "ipv4"),
    "stdio dup'ed onto a socket": ("Standard stream redirected to a network connection", None, None),
    "sensitive read via path trick": ("Sensitive file read in a container", "fd.name", "/etc/shadow"),
    "path traversal": ("Monitored file read through a path traversal", "fd.name", "/etc/shadow"),
    "hard link": ("Hard link to a sensitive file", None, None),
    "symlink": ("Symbolic link to a sensitive file or directory", None, None),
    "log clearing": ("Log files cleared", None, None),
    "private key search": ("Search for private keys or passwords", None, None),
    "cloud credential search": ("Search for cloud credentials", None, None),
    "data destruction": ("Bulk data destruction tool run", None, None),
    "/proc environ read": ("Another process's environment read through /proc", "fd.name", "/proc/1/environ"),
    "/dev/shm execution": ("Program executed from /dev/shm", "proc.exepath", "/dev/shm/cg-shm"),
    "drop and execute": ("New executable run from the container's writable layer", None, None),
    "fileless memfd": ("Fileless execution from a memfd", "proc.exepath", "memfd:cg-payload"),
    "anti-debugging": ("Anti-debugging with PTRACE_TRACEME", None, None),
    "packet socket": ("Packet socket created in a container", None, None),
}

#: the upstream stable rules this set must fire (the others need a host, a tty, privileges or a Kubernetes cluster)
UPSTREAM_EXPECT = {
    "Netcat Remote Code Execution in Container", "Redirect STDOUT/STDIN to Network Connection in Container",
    "Read sensitive file untrusted", "Directory traversal monitored file read", "Create Hardlink Over Sensitive Files",
    "Create Symlink Over Sensitive Files", "Clear Log Activities", "Search Private Keys or Passwords",
    "Find AWS Credentials", "Remove Bulk Data from Disk", "Execution from /dev/shm",
    "Drop and execute new binary in container", "Fileless execution via memfd_create", "PTRACE anti-debug attempt",
    "Packet socket created in container",
}

#: the benign service: an entrypoint script and a page, part of the image (as in real images)
ENTRYPOINT = r"""#!/bin/sh
# an entrypoint: write a log line, make requests to the service, run helper commands, rotate the log
mkdir -p /var/log/app
echo "starting" >> /var/log/app/app.log
for i in 1 2 3 4 5; do
  busybox wget -q -O /dev/null http://127.0.0.1:8080/index.html
  echo "request $i $(date +%s)" >> /var/log/app/app.log
done
grep -c request /var/log/app/app.log > /dev/null
ls /srv/www > /dev/null
cat /etc/os-release > /dev/null
# log rotation by renaming, as logrotate does without copytruncate
if [ -f /var/log/app/app.log.2 ]; then rm -f /var/log/app/app.log.3; mv /var/log/app/app.log.2 /var/log/app/app.log.3; fi
if [ -f /var/log/app/app.log.1 ]; then mv /var/log/app/app.log.1 /var/log/app/app.log.2; fi
mv /var/log/app/app.log /var/log/app/app.log.1
echo "rotated" >> /var/log/app/app.log
"""

BENIGN = r"""
set -e
busybox httpd -f -p 127.0.0.1:8080 -h /srv/www &
HTTPD=$!
sleep 0.3
/srv/entry.sh
/srv/entry.sh
/srv/entry.sh
kill $HTTPD
"""


def _shared() -> Path:
    if not (env.SHARED / "falco-rules").is_dir():
        pytest.fail(f"{env.SHARED}/falco-rules is missing (the upstream rules the tests read)")
    return env.SHARED


def image() -> str:
    """The Debian test image with Debian's static busybox at /usr/local/bin/busybox (no applet links) and a benign
    service's files (/srv/entry.sh, /srv/www)."""
    env.ensure_dockerd()
    with env.machine_lock("debian-busybox-image"):
        if not env.image_exists(IMAGE):
            ctx = env.CACHE / "debian-busybox-ctx"
            ctx.mkdir(parents=True, exist_ok=True)
            shutil.copy2("/bin/busybox", ctx / "busybox")
            (ctx / "entry.sh").write_text(ENTRYPOINT)
            (ctx / "entry.sh").chmod(0o755)
            (ctx / "index.html").write_text("<h1>hello</h1>\n")
            (ctx / "Dockerfile").write_text(f"FROM {env.debian_image()}\nCOPY busybox /usr/local/bin/busybox\n"
                                            "COPY entry.sh /srv/entry.sh\nCOPY index.html /srv/www/index.html\n")
            subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(ctx)], check=True, capture_output=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return IMAGE


class Agent:
    """`containerguard agent` with some rules files, alerts to a JSON-lines file."""

    def __init__(self, tmp: Path, rules: list[Path]) -> None:
        self.alerts = tmp / "alerts.jsonl"
        self.log = tmp / "agent.log"
        # --resolve-names hosts: the upstream rules' domain names resolve from /etc/hosts only (no DNS query leaves)
        cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only", "--resolve-names", "hosts",
               "--output", f"file:{self.alerts}", "--stats-interval", "3600"]
        for r in rules:
            cmd += ["--rules", str(r)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), start_new_session=True)
        deadline = time.monotonic() + 180
        while "agent running" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"agent did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def docs(self, container: str) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        out = []
        for line in self.alerts.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                if d.get("container_id") == container:
                    out.append(d)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _need_root_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    if not shutil.which("bpftrace"):
        pytest.skip("bpftrace is not installed (scripts/setup)")


#: the labels kubelet (dockershim / cri-dockerd) puts on a pod's container: the agent's k8s.* fields come from them
KUBELET_LABELS = {"io.kubernetes.pod.name": "shop-7d9f", "io.kubernetes.pod.namespace": "prod",
                  "io.kubernetes.pod.uid": "0b8e6c1e-1111-4e0f-9c59-6a3c1f0e2d11", "io.kubernetes.container.name": "web"}


def run_in_container(script: str, name: str, labels: dict[str, str] | None = None) -> str:
    """Run ``script`` with sh in a fresh container (no network, exec-able /dev/shm); returns the short id."""
    label_args = [x for k, v in (labels or {}).items() for x in ("--label", f"{k}={v}")]
    cid = subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none", "--tmpfs",
                          "/dev/shm:rw,exec,mode=1777", *label_args, image(), "sleep", "300"],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        r = subprocess.run(["docker", "exec", cid, "sh", "-c", script], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
    except BaseException:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        raise
    return cid


def _wait(agent: Agent, cid: str, done: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        docs = agent.docs(cid[:12])
        if done(docs) or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


@pytest.fixture(scope="module")
def default_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    _need_root_tools()
    image()
    a = Agent(tmp_path_factory.mktemp("agent-default"), [])
    yield a
    a.stop()


def test_attack_set_detected_every_run(default_agent: Agent) -> None:
    wanted = {rule for rule, _f, _v in DEFAULT_EXPECT.values()}
    failures: list[str] = []
    for run in range(RUNS):
        # every other run is a Kubernetes pod's container (kubelet's labels): the alerts name the pod
        pod = run % 2 == 1
        cid = run_in_container(ATTACKS, f"cg-depth-attack-{os.getpid()}-{run}", KUBELET_LABELS if pod else None)
        try:
            docs = _wait(default_agent, cid, lambda ds: wanted <= {d["rule"] for d in ds})
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        fired = {d["rule"] for d in docs}
        for cls, (rule, field, value) in DEFAULT_EXPECT.items():
            hits = [d for d in docs if d["rule"] == rule]
            if not hits:
                failures.append(f"run {run}: {cls}: no '{rule}' alert (fired: {sorted(fired)})")
                continue
            if field is not None and not any(d["output_fields"].get(field) == value for d in hits):
                failures.append(f"run {run}: {cls}: {field} != {value!r} in {[d['output_fields'] for d in hits]}")
        for d in docs:
            assert d["image"] == IMAGE and d["container_name"].startswith("cg-depth-attack-"), d
        shells = [d for d in docs if d["rule"] == DEFAULT_EXPECT["reverse shell by behaviour"][0]]
        for d in shells:
            want = ("shop-7d9f", "prod") if pod else (None, None)
            got = (d["output_fields"]["k8s.pod.name"], d["output_fields"]["k8s.ns.name"])
            if got != want:
                failures.append(f"run {run}: k8s fields {got} != {want}")
    assert not failures, "\n".join(failures)


def test_benign_workload_gives_no_alert(default_agent: Agent) -> None:
    cid = run_in_container(BENIGN, f"cg-depth-benign-{os.getpid()}")
    try:
        time.sleep(2.0)  # alerts land within milliseconds; give a busy machine margin
        docs = default_agent.docs(cid[:12])
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    assert docs == [], [(d["rule"], d["output"]) for d in docs]


def test_upstream_stable_rules_fire_on_the_same_set(tmp_path: Path) -> None:
    _need_root_tools()
    image()
    stable = _shared() / "falco-rules" / "falco_rules.yaml"
    agent = Agent(tmp_path, [stable])
    try:
        cid = run_in_container(ATTACKS, f"cg-depth-upstream-{os.getpid()}")
        try:
            docs = _wait(agent, cid, lambda ds: {d["rule"] for d in ds} >= UPSTREAM_EXPECT)
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    finally:
        agent.stop()
    fired = {d["rule"] for d in docs}
    assert fired >= UPSTREAM_EXPECT, f"missing: {sorted(UPSTREAM_EXPECT - fired)}"
    assert all(d["image"] == IMAGE for d in docs)
    # fields the upstream outputs print, supplied with Falco's meaning (no <NA> where Falco has a value)
    aws = next(d for d in docs if d["rule"] == "Find AWS Credentials")["output_fields"]
    assert (aws["group.name"], aws["group.gid"], aws["proc.cwd"]) == ("root", 0, "/tmp")
    drop = next(d for d in docs if d["rule"] == "Drop and execute new binary in container")["output_fields"]
    assert drop["proc.exe_ino.ctime"] and drop["container.start_ts"] and drop["proc.sname"] == "sh"
    assert 0 <= drop["proc.exe_ino.ctime_duration_proc_start"] < 60 * 10**9  # the binary was just copied
    memfd = next(d for d in docs if d["rule"] == "Fileless execution via memfd_create")["output_fields"]
    assert memfd["proc.exepath"] == "memfd:cg-payload"
