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
