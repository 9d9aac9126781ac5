"""How Docker create/volume/update bodies map onto the deploy document, as dockerd applies them: local volume
options, Go's path cleaning, ParseBool, inline seccomp profiles, masked paths, update semantics."""

from __future__ import annotations

import json

import pytest

from containerguard.policy import inputs


@pytest.mark.parametrize(("driver", "opts", "expected"), [
    ("local", {"type": "none", "o": "bind", "device": "/var/run/"}, ("bind", "/var/run")),
    ("", {"type": "none", "o": "ro,rbind", "device": "//etc"}, ("bind", "/etc")),
    ("local", {"type": "ext4", "device": "/dev/sdb1"}, ("device", "/dev/sdb1")),
    ("local", {"type": "nfs", "o": "addr=10.0.0.1,rw", "device": ":/export"}, None),
    ("local", {"type": "cifs", "device": "//server/share"}, None),
    ("local", {"type": "tmpfs", "device": "tmpfs", "o": "size=100m"}, None),
    ("local", {}, None),
    ("rexray", {"o": "bind", "device": "/etc"}, None),
])
def test_local_volume_options(driver: str, opts: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert inputs.local_volume_host_path(driver, opts) == expected


def test_volume_create_and_inline_volume_options_are_host_access() -> None:
    doc = inputs.from_docker_volume({"name": "v", "driveropts": {"o": "bind", "device": "/run"}})
    assert doc["container"]["mounts"][0]["source"] == "/run" and doc["workload"]["kind"] == "DockerVolume"
    body = {"Image": "a", "HostConfig": {"Mounts": [{"Type": "volume", "Target": "/x", "volumeoptions": {
        "DriverConfig": {"Name": "local", "Options": {"o": "bind", "device": "/var/run/docker.sock"}}}}]}}
    assert inputs.from_docker_create(body)["container"]["mounts"][0]["source"] == "/var/run/docker.sock"
    assert inputs.docker_named_volumes({"Image": "a", "HostConfig": {"Binds": ["data:/d:ro", "/h:/h"]}}) == [("data", "/d", True)]
    assert inputs.docker_volumes_from({"Image": "a", "HostConfig": {"VolumesFrom": ["c1:ro", "c2"]}}) == [("c1", True), ("c2", False)]


def test_bind_sources_are_cleaned_as_go_cleans_them() -> None:
    c = inputs.from_docker_create({"Image": "a", "HostConfig": {"Binds": ["//var/run//docker.sock/:/s"]}})["container"]
    assert c["mounts"][0]["source"] == "/var/run/docker.sock"


@pytest.mark.parametrize(("opt", "nnp"), [("no-new-privileges", True), ("no-new-privileges=t", True),
                                          ("no-new-privileges:TRUE", True), ("no-new-privileges=false", False),
                                          ("no-new-privileges=yes", False)])
def test_no_new_privileges_is_parsed_as_go_parses_bools(opt: str, nnp: bool) -> None:
    assert inputs.from_docker_create({"Image": "a", "HostConfig": {"SecurityOpt": [opt]}})["container"]["no_new_privileges"] is nnp


@pytest.mark.parametrize(("profile", "expected"), [
    ({"defaultAction": "SCMP_ACT_ALLOW"}, "unconfined"), ({"defaultAction": "SCMP_ACT_LOG"}, "unconfined"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, "custom"),
])
def test_inline_seccomp_profiles(profile: dict[str, object], expected: str) -> None:
    body = {"Image": "a", "HostConfig": {"SecurityOpt": ["seccomp=" + json.dumps(profile)]}}
    assert inputs.from_docker_create(body)["container"]["seccomp"] == expected


def test_masked_paths_and_selinux() -> None:
    def c(hc: dict[str, object]) -> dict[str, object]:
        return inputs.from_docker_create({"Image": "a", "HostConfig": hc})["container"]  # type: ignore[no-any-return]

    assert c({"MaskedPaths": None})["proc_mount"] == "default"
    assert c({"MaskedPaths": [], "ReadonlyPaths": []})["proc_mount"] == "unmasked"
    assert c({"ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"]})["proc_mount"] == "unmasked"
    assert c({"MaskedPaths": [*inputs._DOCKER_MASKED, "/proc/extra"]})["proc_mount"] == "default"
    assert c({"SecurityOpt": ["label=type:spc_t", "label=level:s0:c1,c2"]})["selinux"] == {
        "disabled": False, "type": "spc_t", "user": "", "role": ""}


def test_update_applies_only_non_zero_limits() -> None:
    current = {"Name": "/c", "Config": {"Image": "a", "User": "1000"},
               "HostConfig": {"Memory": 67108864, "CpuQuota": 50000, "NanoCpus": 0}}
    before, after, changed = inputs.docker_updated(current, {"Memory": 0, "CpuQuota": -1, "RestartPolicy": {"Name": "always"}})
    assert changed and before["container"]["resources"]["limits"] == {"memory": "67108864", "cpu": "50000"}
    assert after["container"]["resources"]["limits"] == {"memory": "67108864"}
    assert not inputs.docker_updated(current, {"RestartPolicy": {"Name": "always"}})[2]


def test_service_selinux_volumes_and_plugin_devices() -> None:
    body = {"TaskTemplate": {"ContainerSpec": {"Image": "a", "Mounts": [{"Source": "data", "Target": "/d"},
                                                                         {"Type": "bind", "Source": "/srv", "Target": "/s"}],
                                               "Privileges": {"SELinuxContext": {"Disable": True}}}}}
    assert inputs.docker_service_named_volumes(body) == [("data", "/d", False)]
    assert inputs.from_docker_service(body)["container"]["selinux"]["disabled"] is True
    devices = inputs.from_docker_plugin([{"Name": "device", "Value": ["/dev/sda/"]}])["container"]["devices"]
    assert [d["host_path"] for d in devices] == ["/dev/sda"]
