"""Container inventory against real Docker Engines: metadata, event-stream updates, attribution, daemon restart.

The restart test runs a second, private dockerd (own socket, data root and containerd) so the shared
daemon other tests use is never restarted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fixtures import env

from containerguard.runtime.containers import ContainerInfo, ContainerTable, container_id_of_pid, ns_inode

pytestmark = [pytest.mark.docker]


def _until(cond: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def inventory() -> Iterator[ContainerTable]:
    env.ensure_dockerd()
    inv = ContainerTable()
    inv.start()
    yield inv
    inv.stop()


def test_inventory_tracks_container_metadata_and_lifecycle(inventory: ContainerTable, tmp_path: Path) -> None:
    image = env.debian_image()
    changes: list[tuple[str, str]] = []
    inventory.on_change = lambda action, info: changes.append((action, info.id))
    cid = subprocess.run(
        ["docker", "run", "-d", "--name", f"cg-inv-{os.getpid()}", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
         "--label", "team=blue", "--user", "1000", "--network", "none", "-v", f"{tmp_path}:/data:ro",
         image, "sleep", "60"], check=True, capture_output=True, text=True).stdout.strip()
    try:
        _until(lambda: inventory.get(cid) is not None, 10, "the started container")
        info = inventory.get(cid)
        assert isinstance(info, ContainerInfo)
        assert info.name == f"cg-inv-{os.getpid()}"
        assert info.image == image and info.image_repository == "cg-test/debian" and info.image_tag == "bookworm"
        assert info.image_id.startswith("sha256:")
        assert info.labels == {"team": "blue"}
        assert info.cap_add == ("CAP_NET_ADMIN",) and info.cap_drop == ("CAP_MKNOD",)  # as the Engine reports them
        assert info.network_mode == "none" and info.user == "1000" and info.privileged is False
        assert [(m["Source"], m["Destination"], m["RW"]) for m in info.mounts] == [(str(tmp_path), "/data", False)]
        assert info.pid > 0 and info.mntns == ns_inode(info.pid) != inventory.host_mntns
        # attribution: the container's mount namespace, and /proc/<pid>/cgroup as the fallback
        assert container_id_of_pid(info.pid) == cid
        assert inventory.for_event(info.mntns, info.pid) == info
        assert inventory.for_event(inventory.host_mntns, os.getpid()) is None
        assert info.fields()["container.id"] == cid[:12]
        # pause / unpause / rename come through the event stream
        subprocess.run(["docker", "rename", cid, f"cg-inv2-{os.getpid()}"], check=True, capture_output=True)
        _until(lambda: (inventory.get(cid) or info).name == f"cg-inv2-{os.getpid()}", 10, "the rename")
        subprocess.run(["docker", "pause", cid], check=True, capture_output=True)
        _until(lambda: (inventory.get(cid) or info).state == "paused", 10, "the pause")
        subprocess.run(["docker", "unpause", cid], check=True, capture_output=True)
        _until(lambda: (inventory.get(cid) or info).state == "running", 10, "the unpause")
        subprocess.run(["docker", "exec", cid, "true"], check=True, capture_output=True)
        _until(lambda: ("exec_start", cid) in changes, 10, "the exec_start event")
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    _until(lambda: inventory.get(cid) is None, 10, "the container to be forgotten")
    assert ("die", cid) in changes or ("destroy", cid) in changes


class PrivateDockerd:
    """A second dockerd with its own socket, data root, managed containerd and bridge.

    Never ``--bridge none``: dockerd then deletes the host's docker0, cutting the shared daemon's network.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = base / "docker.sock"
        self.host = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.bridge = "cgtestbr0"

    def start(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True, capture_output=True)
            subprocess.run(["ip", "addr", "add", "172.31.254.1/24", "dev", self.bridge], check=True, capture_output=True)
            subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True, capture_output=True)
        log = (self.base / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.host, "--data-root", str(env.CACHE / "private-dockerd"),
             "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
             "--bridge", self.bridge, "--iptables=false", "--ip-masq=false"],
            stdout=log, stderr=log, start_new_session=True)
        _until(lambda: subprocess.run(["docker", "-H", self.host, "info"], capture_output=True).returncode == 0,
               60, "the private dockerd")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)

    def docker(self, *args: str) -> str:
        return subprocess.run(["docker", "-H", self.host, *args], check=True, capture_output=True,
                              text=True).stdout.strip()


@pytest.mark.slow
def test_inventory_survives_daemon_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not shutil.which("dockerd") or os.geteuid() != 0:
        pytest.skip("needs root and dockerd")
    base = Path("/tmp") / f"cg-d2-{os.getpid()}"  # short: unix socket paths are limited to 108 bytes
    base.mkdir(exist_ok=True)
    d = PrivateDockerd(base)
    d.start()
    inv: ContainerTable | None = None
    try:
        tar = subprocess.Popen(["tar", "-C", "/bin", "-c", "busybox"], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", d.host, "import", "-", "cg-test/bbraw"], stdin=tar.stdout, check=True,
                       capture_output=True)
        tar.wait()
        first = d.docker("run", "-d", "--network", "none", "cg-test/bbraw", "/busybox", "sleep", "300")
        inv = ContainerTable(d.host, max_backoff=1.0)
        inv.start()
        assert inv.get(first) is not None
        d.stop()
        _until(lambda: inv is not None and not inv.connected, 30, "the agent to notice the daemon went away")
        d.start()
        _until(lambda: inv is not None and inv.reconnects >= 1, 30, "the reconnect")
        # the container died with the daemon (no live-restore): the resync forgets it
        _until(lambda: inv is not None and inv.get(first) is None, 10, "the resync")
        second = d.docker("run", "-d", "--network", "none", "cg-test/bbraw", "/busybox", "sleep", "300")
        _until(lambda: inv is not None and inv.get(second) is not None, 10, "a container started after the restart")
        d.docker("rm", "-f", second)
    finally:
        if inv is not None:
            inv.stop()
        subprocess.run(["docker", "-H", d.host, "rm", "-f", *d.docker("ps", "-aq").split()], capture_output=True)
        d.stop()
        subprocess.run(["ip", "link", "del", d.bridge], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_unreachable_engine_is_not_fatal(tmp_path: Path) -> None:
    inv = ContainerTable(f"unix://{tmp_path}/nothing.sock", max_backoff=0.5)
    inv.start()  # warns and keeps retrying in the background
    try:
        assert inv.connected is False and inv.list() == []
        assert inv.for_event(inv.host_mntns + 1, os.getpid()) is None  # attributed to host meanwhile
    finally:
        t0 = time.monotonic()
        inv.stop()
        assert time.monotonic() - t0 < 6


@pytest.mark.parametrize(("action", "state"), [("pause_container", "paused"), ("stop_container", "exited"),
                                               ("kill_container", "exited")])
def test_container_responses(inventory: ContainerTable, action: str, state: str) -> None:
    from containerguard.model import Alert, Event, Priority
    from containerguard.runtime.respond import Responder

    cid = subprocess.run(["docker", "run", "-d", "--network", "none", env.debian_image(), "sleep", "300"],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        alert = Alert(rule="r", rule_id="R", priority=Priority.CRITICAL, output="o", time_ns=0)
        ev = Event("execve", 0, {"container.id": cid[:12], "container.full_id": cid, "proc.pid": 0})
        t0 = time.monotonic()
        responder = Responder(inventory.api, stop_timeout=1)
        out = responder.run(action, alert, ev)
        assert out == f"{action} {cid[:12]}: ok"
        # a burst of alerts from the same container: acted on once
        assert responder.run(action, alert, ev) == f"{action} {cid[:12]}: already done"
        got = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", cid], capture_output=True,
                             text=True).stdout.strip()
        assert got == state and time.monotonic() - t0 < 10
        # acting on a container that is gone is an error outcome, not an exception
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        again = Responder(inventory.api).run(action, alert, ev)
        assert again.startswith(f"{action}: error:")
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


def test_image_digest_of_a_pulled_image(inventory: ContainerTable, tmp_path: Path) -> None:
    """One image pushed to two registries has a digest per repository: each container gets the one of the
    repository it was started from, whichever the agent saw first."""
    from tests.fixtures.registry import Registry
    from tests.integration.test_agent import busybox_image

    regs = [Registry.start(tmp_path / f"registry{i}", auth=False) for i in range(2)]
    refs = [f"{reg.host}/cg/busybox:digest-test" for reg in regs]
    cids: list[str] = []
    try:
        for ref in refs:
            subprocess.run(["docker", "tag", busybox_image(), ref], check=True, capture_output=True)
            subprocess.run(["docker", "push", ref], check=True, capture_output=True)  # 127.0.0.0/8: insecure-allowed
        digests = json.loads(subprocess.run(["docker", "image", "inspect", "-f", "{{json .RepoDigests}}", refs[0]],
                                            check=True, capture_output=True, text=True).stdout)
        for reg, ref in zip(regs, refs, strict=True):
            repo_digest = next(d for d in digests if d.startswith(f"{reg.host}/cg/busybox@"))
            cid = subprocess.run(["docker", "run", "-d", "--network", "none", ref, "sleep", "60"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            cids.append(cid)
            _until(lambda c=cid: inventory.get(c) is not None, 10, "the container")  # type: ignore[misc]
            info = inventory.get(cid)
            assert info is not None
            assert info.image == ref and info.image_repository == f"{reg.host}/cg/busybox"
            assert info.image_tag == "digest-test"
            assert info.image_digest == repo_digest
            assert info.fields()["container.image.digest"] == repo_digest.split("@")[1]
    finally:
        for cid in cids:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        for ref in refs:
            subprocess.run(["docker", "rmi", ref], capture_output=True)
        for reg in regs:
            reg.stop()
