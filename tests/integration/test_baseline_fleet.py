"""Baselines across a fleet of real containers (issue 14), through the real agent (eBPF sensor) and CLI:

* pods of one Deployment, started on Docker with the labels kubelet (cri-dockerd) puts on a pod's containers,
  share one baseline keyed by their owner (``k8s:NAMESPACE/Deployment/NAME/CONTAINER``), across ReplicaSets;
* an image has one mode: the quiet period of one workload promotes the image's other running workloads, and
  ``baseline mode WORKLOAD protect`` applies at once to every running container of the image (a new process in
  the other container is killed).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_baseline import (
    Agent,
    _baselines,
    _cli,
    _docker,
    _ip,
    _serving,
    _wait,
    python_image,
)

from containerguard.runtime.baseline import name_pattern

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

PREFIX = "cgbf-"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")
    yield python_image()


def _pod(name: str, namespace: str, pod: str, image: str) -> str:
    labels = {"io.kubernetes.pod.namespace": namespace, "io.kubernetes.pod.name": pod,
              "io.kubernetes.container.name": "app", "io.kubernetes.pod.uid": f"uid-{pod}",
              "io.kubernetes.docker.type": "container"}
    args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    return _docker("run", "-d", "--name", name, *args, image).stdout.strip()


def test_deployment_pods_share_one_baseline_and_an_image_one_mode(image: str, tmp_path: Path) -> None:
    bdir = tmp_path / "baselines"
    tag = str(os.getpid())
    ns = f"cgbf{tag}"
    alpha, beta = f"{PREFIX}alpha-{tag}", f"{PREFIX}beta-{tag}"
    pods = {f"{PREFIX}pod1-{tag}": "web-7d4b9c8f5d-x2x9k", f"{PREFIX}pod2-{tag}": "web-7d4b9c8f5d-b6w8q",
            f"{PREFIX}pod3-{tag}": "web-5f6d7c8b9-qwrtz"}  # pod3: a later ReplicaSet of the same Deployment
    names = [alpha, beta, *pods]
    agent = Agent(tmp_path, bdir)
    try:
        for n in (alpha, beta):
            _docker("run", "-d", "--name", n, image)
        for n, pod in pods.items():
            _pod(n, ns, pod, image)
        for n in names:
            _serving(_ip(n))

        # one baseline for the three pods, keyed by their owner
        owner = f"k8s:{ns}/Deployment/web/app"
        _wait(lambda: any(b["workload"] == owner for b in _baselines(bdir)), 60, "the Deployment's baseline")
        mine = [b for b in _baselines(bdir) if b["workload"].startswith(f"k8s:{ns}/")]
        assert [b["workload"] for b in mine] == [owner], mine
        res = _cli("baseline", "show", owner, "--format", "json", "--baseline-dir", str(bdir))
        assert res.returncode == 0 and "|-B /srv/server.py" in res.stdout, res.stderr

        # one image, two workloads (alpha, beta): learned together, promoted together by the quiet period
        pa, pb = name_pattern(alpha), name_pattern(beta)

        def modes() -> dict[str, str]:
            return {b["name_pattern"]: b["mode"] for b in _baselines(bdir) if b["name_pattern"] in (pa, pb)}

        _wait(lambda: modes() == {pa: "monitor", pb: "monitor"}, 90, "both workloads of the image monitoring")
        # one command on alpha's baseline: beta's running container is protected too, within a second or two
        res = _cli("baseline", "mode", pa, "protect", "--baseline-dir", str(bdir))
        assert res.returncode == 0 and f"/{pb}: mode protect" in res.stdout, (res.stdout, res.stderr)
        time.sleep(2.5)
        t0 = time.monotonic()
        res = _docker("exec", beta, "/usr/bin/sleep", "30", check=False)
        assert res.returncode == 137 and time.monotonic() - t0 < 10, (res.returncode, res.stderr)
        _wait(lambda: any(d["rule_id"] == "CG-B001" and d["output_fields"]["baseline.mode"] == "protect"
                          for d in agent.docs(beta)), 10, "the protect alert in beta")
    finally:
        agent.stop()
        _docker("rm", "-f", *names, check=False)
