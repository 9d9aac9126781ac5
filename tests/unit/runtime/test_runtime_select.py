"""agent --runtime auto: Docker where its socket is, containerd where only containerd's is."""

from __future__ import annotations

import socket
from pathlib import Path

from containerguard.runtime.agent import select_runtime
from containerguard.runtime.containers import container_id_of_pid, user_pod_labels


def _sock(path: Path) -> str:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return str(path)


def test_auto_takes_the_runtime_whose_socket_exists(tmp_path: Path) -> None:
    ctrd = _sock(tmp_path / "containerd.sock")
    docker = _sock(tmp_path / "docker.sock")
    none = str(tmp_path / "absent.sock")
    assert select_runtime("auto", None, ctrd, {"DOCKER_HOST": f"unix://{docker}"}) == "docker"
    assert select_runtime("auto", None, ctrd, {"DOCKER_HOST": f"unix://{none}"}) == "containerd"
    assert select_runtime("auto", None, none, {"DOCKER_HOST": f"unix://{none}"}) == "docker"  # waits for an Engine
    assert select_runtime("auto", "tcp://10.0.0.1:2376", ctrd, {"DOCKER_HOST": f"unix://{none}"}) == "docker"
    assert select_runtime("auto", None, ctrd, {"DOCKER_HOST": "tcp://127.0.0.1:2375"}) == "docker"
    assert select_runtime("containerd", None, none, {}) == "containerd"


def test_cri_cgroup_paths_name_the_container(tmp_path: Path) -> None:
    cid = "8c3dc20fc15b624185082d68262e8dd6da44d3f7f78fa236bbdb9535e5560eb1"
    for line in (f"0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-{cid}.scope",
                 f"9:name=systemd:/kubepods/besteffort/pod1234/{cid}", f"8:pids:/k8s.io/{cid}"):
        (tmp_path / "42").mkdir(exist_ok=True)
        (tmp_path / "42" / "cgroup").write_text(line + "\n")
        assert container_id_of_pid(42, str(tmp_path)) == cid, line


def test_pod_labels_drop_the_runtimes_own_labels() -> None:
    labels = {"app": "shop", "io.kubernetes.pod.uid": "u", "io.cri-containerd.kind": "sandbox",
              "io.containerd.image.config.stop-signal": "SIGTERM", "annotation.x": "y"}
    assert user_pod_labels(labels) == {"app": "shop"}
