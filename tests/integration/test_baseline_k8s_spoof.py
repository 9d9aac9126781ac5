"""Workload identity can not be claimed by an image (issue 14), through the real agent (eBPF sensor) and CLI.

Docker copies an image's labels to every container of it, so an image built with kubelet's labels
(``io.kubernetes.pod.namespace``, ``io.kubernetes.pod.name``, ``io.kubernetes.container.name``) would put any plain
container of it into the baseline (and the ``k8s.*`` fields) of a pod of its choosing: a namespace it names, a
Deployment whose permissive baseline and mode it would share or whose baseline it would teach. Labels that come
from the image are the image's claim, not kubelet's: such a container is keyed by its image and name; a container
whose kubelet labels were set when it was created (as kubelet does, overriding the image's) is still a pod's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_baseline import Agent, _baselines, _docker, _ip, _serving, _wait, python_image

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

PREFIX = "cgr2b-"
SPOOF_IMAGE = "containerguard-test/cgr2b-k8s-spoof:1"
CLAIMED = {"io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.pod.name": "coredns-5d78c9869d-x7bqz",
           "io.kubernetes.container.name": "coredns", "io.kubernetes.pod.uid": "1c0ffee0-0000-4000-8000-000000000001",
           "io.kubernetes.docker.type": "container"}


@pytest.fixture(scope="module")
def spoof_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")
    base = python_image()
    ctx = tmp_path_factory.mktemp("spoof")
    labels = " ".join(f'"{k}"="{v}"' for k, v in CLAIMED.items())
    (ctx / "Dockerfile").write_text(f"FROM {base}\nLABEL {labels}\n")
    _docker("build", "-q", "-t", SPOOF_IMAGE, str(ctx))
    yield SPOOF_IMAGE
    _docker("rmi", "-f", SPOOF_IMAGE, check=False)


def test_kubelet_labels_from_the_image_do_not_make_a_pod(spoof_image: str, tmp_path: Path) -> None:
    bdir = tmp_path / "baselines"
    tag = str(os.getpid())
    plain, pod = f"{PREFIX}plain-{tag}", f"{PREFIX}pod-{tag}"
    ns = f"cgr2b{tag}"
    agent = Agent(tmp_path, bdir)
    try:
        _docker("run", "-d", "--name", plain, spoof_image)
        # as kubelet creates a pod's container: its own labels, which override the image's
        kubelet = {**CLAIMED, "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": "web-7d4b9c8f5d-x2x9k",
                   "io.kubernetes.container.name": "app", "io.kubernetes.pod.uid": f"uid-{tag}"}
        _docker("run", "-d", "--name", pod, *[a for k, v in kubelet.items() for a in ("--label", f"{k}={v}")],
                spoof_image)
        for n in (plain, pod):
            _serving(_ip(n))
        image_id = _docker("image", "inspect", "-f", "{{.Id}}", spoof_image).stdout.strip()
        mine = f"{image_id}/{PREFIX}plain-*"
        owner = f"k8s:{ns}/Deployment/web/app"
        _wait(lambda: {mine, owner} <= {b["workload"] for b in _baselines(bdir)}, 60, "both workloads")
        keys = [b["workload"] for b in _baselines(bdir)]
        assert not [k for k in keys if k.startswith("k8s:kube-system/")], keys
    finally:
        agent.stop()
        _docker("rm", "-f", plain, pod, check=False)
