"""The deploy documents of the Docker API bodies besides container create: swarm service specs and the privileges
granted to a managed plugin, read as dockerd decodes them (keys in any case)."""

from __future__ import annotations

from containerguard.policy import inputs


def test_service_spec_maps_onto_the_container_fields() -> None:
    doc = inputs.from_docker_service({
        "Name": "web", "Labels": {"a": "b"},
        "TaskTemplate": {"containerspec": {"Image": "nginx:1", "User": "1000", "CapabilityAdd": ["CAP_SYS_ADMIN"],
                                           "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock/", "Target": "/s"}],
                                           "Privileges": {"NoNewPrivileges": False, "Seccomp": {"Mode": "unconfined"}}},
                         "Networks": [{"Target": "host"}], "Resources": {"Limits": {"MemoryBytes": 67108864}}},
        "EndpointSpec": {"Ports": [{"PublishedPort": 8080, "PublishMode": "host"}, {"PublishedPort": 9, "PublishMode": "ingress"}]},
    }, operation="UPDATE")
    c = doc["container"]
    assert (c["name"], c["image"], c["run_as_user"], c["capabilities"]["add"]) == ("web", "nginx:1", 1000, ["SYS_ADMIN"])
    assert c["mounts"] == [{"source": "/var/run/docker.sock", "destination": "/s", "type": "bind", "read_only": False}]
    assert c["host_network"] and c["allow_privilege_escalation"] and c["seccomp"] == "unconfined"
    assert c["host_ports"] == [8080] and c["resources"]["limits"] == {"memory": "67108864"}
    assert doc["workload"]["kind"] == "DockerService" and doc["workload"]["operation"] == "UPDATE"
    assert doc["image"]["repository"] == "library/nginx"


def test_service_network_ids_are_listed_for_lookup() -> None:
    body = {"TaskTemplate": {"Networks": [{"Target": "abc123"}]}, "Networks": [{"target": "def"}]}
    assert inputs.docker_service_networks(body) == ["abc123", "def"]
    assert not inputs.from_docker_service(body)["container"]["host_network"]


def test_plugin_privileges_map_onto_the_container_fields() -> None:
    doc = inputs.from_docker_plugin([
        {"Name": "network", "Value": ["host"]}, {"name": "mount", "value": ["/etc/"]},
        {"Name": "host pid namespace", "Value": ["true"]}, {"Name": "allow-all-devices", "Value": ["true"]},
        {"Name": "capabilities", "Value": ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]}, "junk", {"Name": "network", "Value": ["bridge"]},
    ], name="vieux/sshfs:latest")
    c = doc["container"]
    assert c["host_network"] and c["host_pid"] and not c["host_ipc"] and c["privileged"]
    assert [m["source"] for m in c["mounts"]] == ["/etc"] and c["capabilities"]["add"] == ["NET_ADMIN", "SYS_ADMIN"]
    assert doc["workload"] == {**doc["workload"], "kind": "DockerPlugin", "name": "vieux/sshfs:latest"}
    none = inputs.from_docker_plugin([])["container"]
    assert not (none["host_network"] or none["privileged"] or none["mounts"] or none["capabilities"]["add"])


def test_joined_namespaces() -> None:
    body = {"Image": "a", "HostConfig": {"PidMode": "container:x", "NetworkMode": "container:y", "IpcMode": "host"}}
    assert inputs.docker_joined(body) == {"pid": "x", "network": "y"}
    doc = inputs.assume_host_namespaces(inputs.from_docker_create(body), ["pid"])
    assert doc["container"]["host_pid"] and doc["container"]["host_ipc"] and not doc["container"]["host_network"]
