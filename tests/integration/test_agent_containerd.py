"""The agent on a node running containerd without Docker (``--runtime containerd``), through its command line.

Each test starts its OWN containerd (Debian's, the one docker.io ships) with its own socket, root and state under the
test cache and a temporary directory, with the CRI plugin off (tests/fixtures/containerd.py), and runs the Debian test
image in namespace k8s.io with ``ctr``, with the labels kubelet sets where a test needs a pod. The system containerd is
never touched. What a Kubernetes/containerd user checks:

- the pod, container name, image, image digest and id, and privileged flag of a container, on its first events: a
  container that lives a few milliseconds still gets its start event with all of them (containerd's event stream, no
  poll);
- drift (``proc.is_exe_upper_layer``) from the container's writable layer in containerd's snapshot;
- pause, stop (SIGTERM, then SIGKILL after the grace) and kill responses through containerd's Tasks service;
- a containerd restart: the agent reconnects, sees what ended while containerd was away, and follows new containers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.containerd import IMAGE, Containerd, cid, containerd

__all__ = ["containerd"]  # the fixture, used by name

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

POD_UID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
POD = {"io.kubernetes.pod.name": "shop-7d9f", "io.kubernetes.pod.namespace": "prod", "io.kubernetes.pod.uid": POD_UID}
RULE = """
- rule: Shadow read in a pod
  desc: test rule printing the Kubernetes and container fields
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and container.id != host
  output: >
    shadow read pod=%k8s.pod.name ns=%k8s.ns.name uid=%k8s.pod.uid labels=%k8s.pod.labels
    name=%container.name id=%container.id image=%container.image type=%container.type sandbox=%k8s.pod.sandbox_id
  priority: WARNING
"""
STARTED = """
- rule: Container started
  desc: every container start, with what the agent knows of it then
  condition: evt.type = container and container.id != host
  output: >
    started %container.id name=%container.name image=%container.image digest=%container.image.digest
    image_id=%container.image.id privileged=%container.privileged pod=%k8s.pod.name ns=%k8s.ns.name
    labels=%k8s.pod.labels cap_add=%container.cap_add sandbox=%k8s.pod.sandbox_id start=%container.start_ts
  priority: NOTICE
"""
DRIFT = """
- rule: Exec from the writable layer
  desc: a program run from the container's upper layer (written after it started)
  condition: >
    evt.type in (execve, execveat) and evt.dir = < and container.id != host and proc.is_exe_upper_layer = true
  output: drift %proc.exepath in %container.id
  priority: WARNING
"""
RESPONSES = "".join(f"""
- rule: Read {name}
  desc: respond with {action}
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/{name} and container.id != host
  output: read /etc/{name} in %container.id
  priority: WARNING
  containerguard.actions: [{action}]
""" for name, action in (("shadow", "pause_container"), ("gshadow", "stop_container"), ("issue", "kill_container")))


def _labels(labels: dict[str, str]) -> list[str]:
    return [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]


class Agent:
    """``containerguard agent --runtime containerd`` on the private containerd, alerts to a file."""

    def __init__(self, proc: subprocess.Popen[bytes], alerts: Path, log: Path, health: int) -> None:
        self.proc, self.alerts, self.log, self.health_port = proc, alerts, log, health

    def docs(self) -> list[dict[str, Any]]:
        text = self.alerts.read_text() if self.alerts.exists() else ""
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.docs() if match(d)]
            if found:
                return found[0]
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=5) as r:
            doc: dict[str, Any] = json.load(r)
        return doc


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def agent(ctrd: Containerd, tmp: Path, rules: str, *extra: str) -> Iterator[Agent]:
    (tmp / "rules.yaml").write_text(rules)
    alerts, log, port = tmp / "alerts.jsonl", tmp / "agent.log", _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--runtime", "containerd",
                             "--containerd-socket", ctrd.sock, "--rules", str(tmp / "rules.yaml"),
                             "--output", f"file:{alerts}", "--health-port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True,
                            # a node without Docker: nothing may come from this machine's Docker Engine
                            env={**os.environ, "DOCKER_HOST": f"unix://{tmp}/no-docker.sock"})
    try:
        deadline = time.monotonic() + 180
        while "agent running" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield Agent(proc, alerts, log, port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _started(container: str) -> Callable[[dict[str, Any]], bool]:
    return lambda d: d["rule"] == "Container started" and d["output_fields"]["container.id"] == container[:12]


def test_agent_names_the_pod_of_a_containerd_container(containerd: Containerd, tmp_path: Path) -> None:
    sandbox, app = cid("sandbox"), cid("app")
    # found through the sandbox id the CRI plugin writes into the container's spec annotations (this sandbox has no
    # pod uid label, so the lookup by uid could not find it)
    labels = {"io.kubernetes.pod.name": "shop-7d9f", "io.cri-containerd.kind": "sandbox", "app": "shop", "tier": "web"}
    containerd.run("containers", "create", *_labels(labels), IMAGE, sandbox, "sleep", "1")
    containerd.ids.append(sandbox)
    with agent(containerd, tmp_path, RULE, "--containers-only") as ag:
        app_labels = {**POD, "io.kubernetes.container.name": "web", "io.cri-containerd.kind": "container"}
        containerd.run("run", "-d", *_labels(app_labels), "--annotation", f"io.kubernetes.cri.sandbox-id={sandbox}",
                       IMAGE, app, "sleep", "120")
        containerd.ids.append(app)
        containerd.run("task", "exec", "--exec-id", "cg-read", app, "cat", "/etc/shadow")
        doc = ag.wait_for(lambda d: d["rule"] == "Shadow read in a pod")
    out = doc["output_fields"]
    assert (out["k8s.pod.name"], out["k8s.ns.name"], out["k8s.pod.uid"]) == ("shop-7d9f", "prod", POD_UID)
    assert out["k8s.pod.labels"] == {"app": "shop", "tier": "web"}  # from the sandbox, kubelet's own labels dropped
    assert out["k8s.pod.sandbox_id"] == sandbox[:12]
    assert (out["container.name"], out["container.id"], out["container.type"]) == ("web", app[:12], "containerd")
    assert out["container.image"] == IMAGE
    assert doc["container_id"] == app[:12]


def test_short_lived_containers_are_seen_with_their_metadata_and_drift(containerd: Containerd, tmp_path: Path) -> None:
    target, config = containerd.image_digests()
    sandbox, flash, app = cid("sandbox"), cid("flash"), cid("app")
    containerd.run("containers", "create", *_labels({**POD, "io.cri-containerd.kind": "sandbox", "app": "shop"}),
                   IMAGE, sandbox, "sleep", "1")
    containerd.ids.append(sandbox)
    with agent(containerd, tmp_path, STARTED + DRIFT, "--containers-only") as ag:
        # a privileged container of a pod that lives a few milliseconds: a poll would never see it running
        t0, wall0 = time.monotonic(), time.time_ns()
        containerd.run("run", "--rm", "--privileged", *_labels({**POD, "io.kubernetes.container.name": "flash"}),
                       IMAGE, flash, "true")
        out = ag.wait_for(_started(flash))["output_fields"]
        assert time.monotonic() - t0 < 10
        assert out["container.privileged"] is True
        assert (out["container.name"], out["k8s.pod.name"], out["k8s.ns.name"]) == ("flash", "shop-7d9f", "prod")
        assert out["k8s.pod.labels"] == {"app": "shop"}
        assert out["container.image"] == IMAGE
        assert out["container.image.digest"] == target  # the image record's target, as `ctr images ls` shows it
        assert out["container.image.id"] == config  # the config digest of its manifest
        assert out["container.cap_add"] == []  # nothing listed for a privileged container, as Docker
        assert out["k8s.pod.sandbox_id"] == sandbox[:12]  # the pod's sandbox, found by the pod uid
        assert wall0 - 1_000_000_000 < out["container.start_ts"] < time.time_ns()  # started now, not created
        # an ordinary container with one added capability: not privileged; then drift from its writable layer
        containerd.run("run", "-d", "--cap-add", "CAP_NET_ADMIN", IMAGE, app, "sleep", "120")
        containerd.ids.append(app)
        out = ag.wait_for(_started(app))["output_fields"]
        assert out["container.privileged"] is False
        assert out["container.cap_add"] == ["CAP_NET_ADMIN"]
        assert out["k8s.pod.name"] is None  # not a pod's container
        containerd.run("task", "exec", "--exec-id", "cg-image-bin", app, "/bin/true")  # the image's own: no drift
        containerd.run("task", "exec", "--exec-id", "cg-drop", app, "sh", "-c",
                       "cp /bin/true /usr/local/bin/dropped && /usr/local/bin/dropped")
        doc = ag.wait_for(lambda d: d["rule"] == "Exec from the writable layer")
        time.sleep(1.0)  # any drift alert for /bin/true would have arrived by now (alerts come in milliseconds)
        drift = [d["output_fields"]["proc.exepath"] for d in ag.docs() if d["rule"] == "Exec from the writable layer"]
    assert doc["output_fields"]["container.id"] == app[:12]
    assert drift == ["/usr/local/bin/dropped"]
    starts = [d["output_fields"]["container.id"] for d in ag.docs() if d["rule"] == "Container started"]
    assert sorted(starts) == sorted([flash[:12], app[:12]])  # once each; the sandbox was never started


def test_responses_through_containerd_tasks(containerd: Containerd, tmp_path: Path) -> None:
    paused, stopped, killed = cid("pause"), cid("stop"), cid("kill")
    for c in (paused, stopped, killed):
        # `sleep` as the container's init ignores SIGTERM (pid 1 has no default action): stop must escalate
        containerd.run("run", "-d", IMAGE, c, "sleep", "300")
        containerd.ids.append(c)
    with agent(containerd, tmp_path, RESPONSES, "--containers-only") as ag:
        containerd.run("task", "exec", "--exec-id", "cg-1", paused, "cat", "/etc/shadow")
        containerd.run("task", "exec", "--exec-id", "cg-2", killed, "cat", "/etc/issue")
        t0 = time.monotonic()
        containerd.run("task", "exec", "--exec-id", "cg-3", stopped, "cat", "/etc/gshadow")
        docs = {name: ag.wait_for(lambda d, n=name: d["rule"] == f"Read {n}", timeout=30)
                for name in ("shadow", "issue", "gshadow")}
        stop_took = time.monotonic() - t0
    assert docs["shadow"]["responses"] == [f"pause_container {paused[:12]}: ok"]
    assert docs["gshadow"]["responses"] == [f"stop_container {stopped[:12]}: ok"]
    assert docs["issue"]["responses"] == [f"kill_container {killed[:12]}: ok"]
    assert containerd.task_status(paused) == "PAUSED"
    assert containerd.task_status(stopped) == "STOPPED"
    assert containerd.task_status(killed) == "STOPPED"
    assert stop_took >= 2.0  # SIGTERM was ignored: SIGKILL came after the 2 s grace, not at once


def test_agent_follows_containerd_across_a_restart(containerd: Containerd, tmp_path: Path) -> None:
    before, during, after = cid("before"), cid("during"), cid("after")
    for c in (before, during):
        containerd.run("run", "-d", IMAGE, c, "sleep", "300")
        containerd.ids.append(c)
    with agent(containerd, tmp_path, STARTED, "--no-sensor") as ag:
        h = ag.health()
        assert (h["runtime"], h["runtime_connected"], h["containers"]) == ("containerd", True, 2)
        pid = int(next(x.split()[1] for x in containerd.run("task", "ls").stdout.splitlines() if x.startswith(during)))
        containerd.down()
        os.kill(pid, signal.SIGKILL)  # a container ends while containerd is away: the agent hears of it on return
        time.sleep(1.0)
        assert ag.health()["runtime_connected"] is False
        containerd.up()
        deadline = time.monotonic() + 20
        while (h := ag.health())["runtime_reconnects"] < 1 or h["containers"] != 1:
            assert time.monotonic() < deadline, (h, ag.log.read_text()[-3000:])
            time.sleep(0.2)
        assert h["runtime_connected"] is True
        # the list taken on reconnecting found it ended (not a later event): one container running at that moment
        assert "containerd reconnected; containers running: 1" in ag.log.read_text()
        events = h["runtime_events"]
        containerd.run("run", "-d", IMAGE, after, "sleep", "300")
        containerd.ids.append(after)
        ag.wait_for(_started(after))  # the new subscription follows new containers
        h = ag.health()
        assert h["containers"] == 2 and h["runtime_events"] > events
    log = ag.log.read_text()
    assert "containerd event stream" in log and "lost" in log  # the loss was logged


ZERO_DRIFT = """
- rule: Zero drift
  desc: an executable that is not the image's, judged against the image's layers
  condition: >
    evt.type in (execve, execveat) and evt.dir = < and container.id != host and proc.exe_drift exists
    and proc.exe_drift != ""
  output: zero-drift %proc.exepath why=%proc.exe_drift in %container.id
  priority: WARNING
"""


def test_zero_drift_from_the_layers_containerd_unpacked(containerd: Containerd, tmp_path: Path) -> None:
    app = cid("layers")
    _target, image_id = containerd.image_digests()
    containerd.run("run", "-d", IMAGE, app, "sleep", "300")
    containerd.ids.append(app)
    containerd.run("task", "exec", "--exec-id", "cg-setup", app, "sh", "-c",
                   "cp /usr/bin/sleep /usr/bin/tac && chmod 4755 /usr/bin/true"  # replaced in place; made setuid
                   " && touch /usr/bin/date && chmod 755 /usr/bin/date")  # copied up, content and mode unchanged
    with agent(containerd, tmp_path, ZERO_DRIFT, "--containers-only", "--image-layers") as ag:
        containerd.run("task", "exec", "--exec-id", "cg-warm", app, "/usr/bin/ls", "/")  # the first exec loads the index
        deadline = time.monotonic() + 60
        while image_id not in ((ag.health().get("image_layers") or {}).get("ready") or []):
            assert time.monotonic() < deadline, (ag.health().get("image_layers"), ag.log.read_text()[-3000:])
            time.sleep(0.2)
        for n, (exe, *args) in enumerate((("/usr/bin/date",), ("/usr/bin/ls", "/"), ("/usr/bin/tac", "0.1"),
                                          ("/usr/bin/true",))):
            containerd.run("task", "exec", "--exec-id", f"cg-{n}", app, exe, *args)
        ag.wait_for(lambda d: d["output_fields"]["proc.exepath"] == "/usr/bin/true")
        time.sleep(1.0)
        found = {d["output_fields"]["proc.exepath"]: d["output_fields"]["proc.exe_drift"] for d in ag.docs()}
    assert found.keys() == {"/usr/bin/tac", "/usr/bin/true"}, found  # date (only touched) and ls: the image's
    assert found["/usr/bin/tac"].startswith("replaced after the container started")
    assert found["/usr/bin/true"].startswith("mode changed after the container started (4755")
