"""What the agent reads from containerd's records without asking Docker: privileged and capabilities from the OCI spec,
the writable layer from the snapshot's mounts, the container id from containerd's cgroup layout."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from containerguard.runtime.containerd import (
    CAPABILITIES,
    DEFAULT_CAPABILITIES,
    containerd_cgroup_id,
    host_capabilities,
    spec_privileges,
    upper_dir_of,
)

HOST = frozenset(CAPABILITIES[:41])
ALL_DEVICES = {"devices": [{"allow": False, "access": "rwm"}, {"allow": True, "access": "rwm"}]}


def _spec(caps: frozenset[str] | set[str], *, seccomp: bool = True, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    linux: dict[str, Any] = {"resources": resources or {"devices": [{"allow": False, "access": "rwm"}]}}
    if seccomp:
        linux["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO"}
    return {"process": {"capabilities": {"bounding": sorted(caps), "effective": sorted(caps)}}, "linux": linux}


def test_privileged_needs_every_capability_and_no_seccomp_or_device_fence() -> None:
    assert spec_privileges(_spec(HOST, seccomp=False), HOST) == (True, (), ())  # ctr run --privileged without devices
    assert spec_privileges(_spec(HOST, resources=ALL_DEVICES), HOST)[0] is True  # every device allowed
    assert spec_privileges(_spec(HOST), HOST)[0] is False  # every capability, but filtered and fenced
    assert spec_privileges(_spec(HOST - {"CAP_SYS_ADMIN"}, seccomp=False), HOST)[0] is False
    # a host whose root lacks a capability (a sandboxed node): --privileged grants what there is
    narrow = HOST - {"CAP_SYS_RESOURCE"}
    assert spec_privileges(_spec(narrow, seccomp=False), narrow)[0] is True
    # a device rule naming one device class or one device does not open them all
    for rule in ({"allow": True, "type": "c", "access": "rwm"}, {"allow": True, "major": 10, "access": "rwm"},
                 {"allow": True, "access": "rw"}):
        assert spec_privileges(_spec(HOST, resources={"devices": [rule]}), HOST)[0] is False, rule


def test_added_and_dropped_capabilities_are_relative_to_containerds_defaults() -> None:
    caps = (DEFAULT_CAPABILITIES | {"CAP_NET_ADMIN", "CAP_SYS_PTRACE"}) - {"CAP_NET_RAW"}
    assert spec_privileges(_spec(caps), HOST) == (False, ("CAP_NET_ADMIN", "CAP_SYS_PTRACE"), ("CAP_NET_RAW",))
    assert spec_privileges(_spec(DEFAULT_CAPABILITIES), HOST) == (False, (), ())


def test_hostile_specs_are_read_as_unprivileged() -> None:
    for spec in ({}, {"process": None, "linux": []}, {"process": {"capabilities": {"bounding": [1, None]}}},
                 {"linux": {"resources": {"devices": "all"}}}, {"process": {"capabilities": "all"}}):
        assert spec_privileges(spec, HOST)[0] is False, spec


def test_host_capabilities_come_from_the_bounding_set(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    caps = host_capabilities(str(status))
    assert "CAP_SYS_RESOURCE" not in caps and "CAP_CHECKPOINT_RESTORE" in caps and len(caps) == 40
    status.write_text("garbage")
    assert host_capabilities(str(status)) == frozenset(CAPABILITIES)


def _mount(type_: str, source: str, *options: str) -> Any:
    return SimpleNamespace(type=type_, source=source, options=list(options))


def test_upper_dir_from_the_snapshot_mounts() -> None:
    snap = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
    overlay = _mount("overlay", "overlay", "index=off", f"workdir={snap}/9/work", f"upperdir={snap}/9/fs",
                     f"lowerdir={snap}/3/fs:{snap}/2/fs")
    assert upper_dir_of([overlay], "overlayfs") == f"{snap}/9/fs"
    assert upper_dir_of([_mount("bind", f"{snap}/9/fs", "rbind", "rw")], "overlayfs") == f"{snap}/9/fs"
    # the native snapshotter's bind mount is a full copy of the root filesystem, not a layer: unknown
    assert upper_dir_of([_mount("bind", "/var/lib/containerd/native/9", "rbind", "rw")], "native") == ""
    assert upper_dir_of([_mount("bind", f"{snap}/9/fs", "rbind", "ro")], "overlayfs") == ""  # a read-only view
    assert upper_dir_of([], "overlayfs") == ""


def test_containerd_cgroup_layout_names_any_container_id() -> None:
    assert containerd_cgroup_id("12:pids:/k8s.io/web-1\n0::/k8s.io/web-1\n", "k8s.io") == "web-1"
    assert containerd_cgroup_id("0::/default/redis\n", "default") == "redis"
    assert containerd_cgroup_id("0::/k8s.io/web-1\n", "default") is None
    assert containerd_cgroup_id("0::/system.slice/k8s.io/x\n0::/k8s.io/a/b\n0::/k8s.io/\n", "k8s.io") is None


def test_layer_dirs_merge_as_overlayfs_does(tmp_path: Path) -> None:
    import os
    import stat

    from containerguard.runtime.imagefiles import index_of_layer_dirs, resolve

    def put(layer: str, rel: str, mode: int = 0o755, data: bytes = b"#!/bin/sh\n") -> None:
        p = tmp_path / layer / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(mode)

    put("l1", "usr/bin/date")
    put("l1", "usr/bin/tac")
    put("l1", "usr/bin/cat", data=b"x" * 100)
    put("l1", "opt/tool/run")
    put("l1", "etc/motd", 0o644)
    (tmp_path / "l1" / "bin").symlink_to("usr/bin")
    put("l2", "usr/bin/cat", data=b"y" * 7)  # replaced by the upper image layer
    os.mknod(tmp_path / "l2" / "usr" / "bin" / "tac", 0o600 | stat.S_IFCHR, os.makedev(0, 0))  # deleted
    put("l2", "opt/tool/other")
    os.setxattr(tmp_path / "l2" / "opt" / "tool", "trusted.overlay.opaque", b"y")  # lower contents hidden
    idx = index_of_layer_dirs([str(tmp_path / "l2"), str(tmp_path / "l1")])  # top first, as lowerdir lists them
    assert set(idx) == {"usr/bin/date", "usr/bin/cat", "opt/tool/other", "bin"}  # no tac, no run, no motd
    assert idx["usr/bin/cat"].size == 7
    assert idx["bin"].kind == "l" and resolve(idx, "/bin/date") == "usr/bin/date"
