"""Kubernetes metadata through containerd (no Docker involved): the agent with ``--runtime containerd`` attributes an
event in a containerd container to it and names its pod from the labels kubelet puts on the containers it creates
through CRI, with the pod's labels read from the pod's sandbox container.

The test starts its OWN containerd (Debian's, the one docker.io ships) with its own socket, root and state under the
test cache and a temporary directory, with the CRI plugin off, imports the Debian test image into namespace k8s.io,
creates a pod's sandbox container and an application container with kubelet's labels through ``ctr``, and runs a
process in the latter. The system containerd is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures import env

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

NS = "k8s.io"
IMAGE = "docker.io/cg-test/debian:bookworm"
POD_UID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
POD = {"io.kubernetes.pod.name": "shop-7d9f", "io.kubernetes.pod.namespace": "prod", "io.kubernetes.pod.uid": POD_UID}
RULE = """
- rule: Shadow read in a pod
  desc: test rule printing the Kubernetes and container fields
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and container.id != host
  output: >
    shadow read pod=%k8s.pod.name ns=%k8s.ns.name uid=%k8s.pod.uid labels=%k8s.pod.labels
    name=%container.name id=%container.id image=%container.image type=%container.type
  priority: WARNING
"""


def _cid(name: str) -> str:
    return hashlib.sha256(f"{name}-{os.getpid()}".encode()).hexdigest()


class Containerd:
    """A private containerd: its own socket and state in ``tmp``, its content store cached under the test cache."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.sock = str(tmp / "containerd.sock")
        root = env.CACHE / "containerd-root"
        root.mkdir(parents=True, exist_ok=True)
        cfg = tmp / "config.toml"
        cfg.write_text(f'version = 2\nroot = "{root}"\nstate = "{tmp / "state"}"\n'
                       'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                       f'[grpc]\n  address = "{self.sock}"\n[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
                       '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        self.log = (tmp / "containerd.log").open("wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(cfg)], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while subprocess.run(self.ctr("version"), capture_output=True).returncode != 0:
            assert self.proc.poll() is None and time.monotonic() < deadline, (tmp / "containerd.log").read_text()
            time.sleep(0.2)
        self.ids: list[str] = []

    def ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", self.sock, "--namespace", NS, *args]

    def run(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ctr(*args), check=True, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload,no-any-return]

    def ensure_image(self) -> None:
        if IMAGE in self.run("images", "ls", "-q").stdout.split():
            return
        save = subprocess.Popen(["docker", "save", env.debian_image()], stdout=subprocess.PIPE)
        subprocess.run(self.ctr("images", "import", "-"), stdin=save.stdout, check=True, capture_output=True,
                       timeout=300)
        save.wait()

    def stop(self) -> None:
        for cid in self.ids:
            subprocess.run(self.ctr("task", "kill", "-s", "KILL", cid), capture_output=True)
            for _ in range(50):
                if subprocess.run(self.ctr("task", "rm", cid), capture_output=True).returncode == 0 or \
                        cid not in subprocess.run(self.ctr("task", "ls", "-q"), capture_output=True, text=True).stdout:
                    break
                time.sleep(0.1)
            subprocess.run(self.ctr("containers", "rm", cid), capture_output=True)
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture()
def containerd(tmp_path: Path) -> Iterator[Containerd]:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor and containerd need root")
    if not shutil.which("containerd") or not shutil.which("ctr"):
        pytest.fail("containerd is not installed (Debian's containerd, pulled in by docker.io: scripts/setup)")
    env.debian_image()
    with env.machine_lock("containerd-root"):  # one private containerd at a time owns the cached content store
        c = Containerd(tmp_path)
        try:
            c.ensure_image()
            yield c
        finally:
            c.stop()


def test_agent_names_the_pod_of_a_containerd_container(containerd: Containerd, tmp_path: Path) -> None:
    sandbox, app = _cid("sandbox"), _cid("app")
    labels = {**POD, "io.cri-containerd.kind": "sandbox", "app": "shop", "tier": "web"}
    containerd.run("containers", "create", *[x for k, v in labels.items() for x in ("--label", f"{k}={v}")],
                   IMAGE, sandbox, "sleep", "1")
    containerd.ids.append(sandbox)
    rules = tmp_path / "rule.yaml"
    rules.write_text(RULE)
    alerts, log = tmp_path / "alerts.jsonl", tmp_path / "agent.log"
    agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--runtime", "containerd",
                              "--containerd-socket", containerd.sock, "--containers-only", "--rules", str(rules),
                              "--output", f"file:{alerts}"],
                             stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "agent running" not in log.read_text(errors="replace"):
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        app_labels = {**POD, "io.kubernetes.container.name": "web", "io.cri-containerd.kind": "container"}
        containerd.run("run", "-d", *[x for k, v in app_labels.items() for x in ("--label", f"{k}={v}")],
                       IMAGE, app, "sleep", "120")
        containerd.ids.append(app)
        containerd.run("task", "exec", "--exec-id", "cg-read", app, "cat", "/etc/shadow")
        deadline = time.monotonic() + 15
        docs: list[dict[str, object]] = []
        while not docs:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
            docs = [json.loads(x) for x in (alerts.read_text().splitlines() if alerts.exists() else []) if x.strip()]
            docs = [d for d in docs if d["rule"] == "Shadow read in a pod"]
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(30)
    out = docs[0]["output_fields"]
    assert isinstance(out, dict)
    assert (out["k8s.pod.name"], out["k8s.ns.name"], out["k8s.pod.uid"]) == ("shop-7d9f", "prod", POD_UID)
    assert out["k8s.pod.labels"] == {"app": "shop", "tier": "web"}  # from the sandbox, kubelet's own labels dropped
    assert (out["container.name"], out["container.id"], out["container.type"]) == ("web", app[:12], "containerd")
    assert out["container.image"] == IMAGE
    assert docs[0]["container_id"] == app[:12]
