"""Exposure factors of one running container, from what an agent reports (pure logic over the store row)."""

from __future__ import annotations

from containerguard.server.services.risk import exposure
from containerguard.server.store.models import Container


def _c(**kw) -> Container:
    base = {"privileged": False, "capabilities": [], "mounts": [], "ports": [], "network_mode": "bridge"}
    return Container(**{**base, **kw})


def test_a_plain_container_is_not_exposed():
    e = exposure(_c(ports=[{"container": "80/tcp", "host_ip": "127.0.0.1", "host_port": "8080"},
                           {"container": "81/tcp", "host_ip": "::1", "host_port": "8081"},
                           {"container": "82/tcp", "host_ip": "", "host_port": ""}]))  # exposed, not published
    assert e.factor == 1.0 and e.parts == {}


def test_every_factor_adds_its_weight():
    e = exposure(_c(privileged=True, network_mode="host", capabilities=["cap_sys_admin", "CHOWN"],
                    mounts=[{"source": "/run/containerd/containerd.sock", "destination": "/c.sock"},
                            {"source": "/var/run/docker.sock", "destination": "/var/run/docker.sock"}],
                    ports=[{"container": "443/tcp", "host_ip": "", "host_port": "443"}]))
    assert e.parts == {"privileged": 0.5, "docker_socket": 0.5, "host_network": 0.3, "published_ports": 0.3,
                       "dangerous_capabilities": 0.2}
    assert abs(e.factor - 2.8) < 1e-9
    assert e.facts["capabilities"] == ["SYS_ADMIN"]
    assert e.facts["sockets"] == ["/run/containerd/containerd.sock", "/var/run/docker.sock"]
    assert e.facts["ports"] == ["0.0.0.0:443->443/tcp"]


def test_hostile_report_shapes_are_ignored_not_fatal():
    e = exposure(_c(mounts=["not-a-dict", {"source": 5}], ports=[None, "8080"], capabilities=[7]))
    assert e.factor == 1.0


def test_host_pid_and_ipc_namespaces_add_their_weights():
    e = exposure(_c(pid_mode="host", ipc_mode="host"))
    assert e.parts == {"host_pid": 0.3, "host_ipc": 0.2}
    assert abs(e.factor - 1.5) < 1e-9
    # another container's namespace, or a private one, is not the host's
    assert exposure(_c(pid_mode="container:" + "a" * 64, ipc_mode="shareable")).parts == {}


def test_a_read_only_root_discounts_an_exposed_container_only():
    e = exposure(_c(pid_mode="host", read_only=True))
    assert e.parts == {"host_pid": 0.3, "read_only_root": -0.1}
    assert abs(e.factor - 1.2) < 1e-9
    plain = exposure(_c(read_only=True))  # nothing exposed: nothing to discount, 1.0 is the floor
    assert plain.parts == {} and plain.factor == 1.0
