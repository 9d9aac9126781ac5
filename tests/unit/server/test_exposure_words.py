"""The console's exposure words are the risk view's exposure parts (one rule), host namespaces included."""

from types import SimpleNamespace

from containerguard.server.webui.views import exposure


def _c(**kw):
    base = {"privileged": False, "capabilities": [], "mounts": [], "ports": [], "network_mode": "bridge",
            "pid_mode": "", "ipc_mode": "", "read_only": False}
    return SimpleNamespace(**{**base, **kw})


def test_words_follow_the_risk_parts():
    words = exposure(_c(privileged=True, pid_mode="host", ipc_mode="host", read_only=True,
                        capabilities=["CAP_SYS_PTRACE"], network_mode="host",
                        mounts=[{"source": "/var/run/docker.sock", "destination": "/var/run/docker.sock"}],
                        ports=[{"host_ip": "0.0.0.0", "host_port": 8080, "container": "80/tcp"},
                               {"host_ip": "", "host_port": 8443, "container": "443/tcp"}]))
    assert words == ["privileged", "runtime socket mounted", "host network", "2 published ports",
                     "host PID namespace", "host IPC namespace", "+SYS_PTRACE", "read-only root filesystem"]


def test_loopback_ports_and_a_plain_container_are_not_exposure():
    assert exposure(_c(ports=[{"host_ip": "127.0.0.1", "host_port": 8080, "container": "80/tcp"}])) == []
    assert exposure(_c(read_only=True)) == []  # read-only only lowers an exposure that exists
