"""Notification receivers that misbehave, and targets the egress policy refuses, through the server's API and
its ``deliver`` job (SQLite and PostgreSQL):

* a receiver that trickles its answer forever costs one bounded attempt (CONTAINERGUARD_NOTIFY_DEADLINE),
  never the job: the other targets' deliveries go out in the same run, and the slow target's deliveries stay
  pending for their retry (none lost, none attempted more than once a run);
* a receiver that answers 3xx is a failed attempt: the redirect is not followed;
* a target whose address the egress policy refuses (link-local/metadata by default; here a loopback address
  put on CONTAINERGUARD_EGRESS_DENY, so no traffic leaves the machine) gets no connection at all, over HTTP
  or syslog, and the delivery says why; CONTAINERGUARD_EGRESS_ALLOW lets an administrator allow it.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet
from tests.integration.server.test_notify import Receiver, add_target, receivers_of

from containerguard import egress


class Listener:
    """A TCP listener on ``host`` that records every connection and, per ``mode``, answers: ``trickle`` (a status
    line, then a header one byte every 0.3 s, forever), ``redirect`` (307 to ``location``) or ``silent``."""

    def __init__(self, host: str = "127.0.0.1", mode: str = "trickle", location: str = "") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.connections: list[float] = []
        self.mode, self.location = mode, location
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(time.monotonic())
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)
            if self.mode == "redirect":
                conn.sendall(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {self.location}\r\n"
                             "Content-Length: 0\r\n\r\n".encode())
            elif self.mode == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")  # a header that never ends
                while not self.stop.wait(0.3):
                    conn.sendall(b"x")
            else:
                self.stop.wait(60)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CONTAINERGUARD_NOTIFY_BACKOFF", "60")
    monkeypatch.setenv("CONTAINERGUARD_NOTIFY_DEADLINE", "1.5")
    return monkeypatch


@pytest.fixture
def listeners():
    made: list[Any] = []

    def make(*a: Any, **kw: Any) -> Any:
        x = Listener(*a, **kw)
        made.append(x)
        return x

    yield made, make
    for x in made:
        x.close()


def _run_deliver(api) -> tuple[float, dict[str, Any]]:
    t0 = time.monotonic()
    api.app.state.cg.jobs.defer("deliver")
    api.wait_jobs(60)
    job = api.get("/jobs?kind=deliver").json()[0]
    return time.monotonic() - t0, job


def _events(api, n: int) -> None:
    for i in range(n):
        r = api.post("/scans", content=_doc(i), params={"name": f"reg.test/app{i}:1"})
        assert r.status_code == 201, r.text


_DOCS: list[bytes] = []


def _doc(i: int) -> bytes:
    from tests.fixtures import server as srv

    if not _DOCS:
        _DOCS.extend(srv.scan_documents(6))
    return _DOCS[i % len(_DOCS)]


def test_a_trickling_receiver_costs_one_bounded_attempt_and_blocks_no_other_target(api, env, listeners, receivers):
    _made, make = listeners
    slow = make(mode="trickle")
    good = receivers()
    slow_t = add_target(api, name="slow", kind="webhook", url=slow.url + "/hook", event_types=["image_scanned"])
    add_target(api, name="good", kind="slack", url=good.url + "/hook", event_types=["image_scanned"])
    _events(api, 4)
    took, job = _run_deliver(api)
    assert job["status"] == "done", job
    assert len(good.hits) == 4  # every event reached the healthy receiver in this one run
    assert took < 15, took  # not 4 x (a trickle that never ends)
    assert len(slow.connections) == 1  # one attempt at the failing target; its other deliveries wait their turn
    slow_d = api.get("/notifications/deliveries", params={"target_id": slow_t["id"]}).json()
    assert len(slow_d) == 4 and {d["status"] for d in slow_d} == {"pending"}  # none lost
    tried = [d for d in slow_d if d["attempts"]]
    assert len(tried) == 1 and "Timeout" in tried[0]["last_error"], slow_d
    assert sum(d["attempts"] for d in slow_d) == 1


def test_a_redirecting_receiver_is_a_failed_attempt_and_not_followed(api, env, listeners, receivers):
    _made, make = listeners
    elsewhere = receivers()
    redirector = make(mode="redirect", location=elsewhere.url + "/stolen")
    add_target(api, name="moved", kind="webhook", url=redirector.url + "/hook", event_types=["image_scanned"])
    _events(api, 1)
    _run_deliver(api)
    d = api.get("/notifications/deliveries").json()[0]
    assert d["status"] == "pending" and d["attempts"] == 1 and "HTTP 307" in d["last_error"], d
    assert elsewhere.hits == []


@pytest.mark.parametrize("kind,scheme", [("webhook", "http"), ("slack", "http"), ("syslog", "tcp"), ("syslog", "udp")])
def test_the_egress_policy_refuses_a_target_before_any_connection(api, env, listeners, receivers, kind, scheme):
    _made, make = listeners
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.2", 0))
    udp.settimeout(0.5)
    try:
        tcp = make(host="127.0.0.2", mode="silent")
        port = udp.getsockname()[1] if scheme == "udp" else tcp.port
        url = f"{scheme}://127.0.0.2:{port}" + ("" if kind == "syslog" else "/hook?token=t")
        add_target(api, name="internal", kind=kind, url=url, event_types=["image_scanned"])
        # the policy changes after the target was added (as when a name starts resolving to a refused address):
        # checked again when dialled
        env.setenv("CONTAINERGUARD_EGRESS_DENY", "127.0.0.2/32")
        _events(api, 1)
        _run_deliver(api)
        d = api.get("/notifications/deliveries").json()[0]
        assert d["status"] == "pending" and "egress policy" in d["last_error"], d
        assert "CONTAINERGUARD_EGRESS_DENY 127.0.0.2/32" in d["last_error"]
        assert tcp.connections == []
        with pytest.raises(TimeoutError):
            udp.recv(65535)
        # an administrator allows it explicitly: the same delivery goes out on its retry
        env.setenv("CONTAINERGUARD_EGRESS_ALLOW", "127.0.0.0/29")
        assert api.post(f"/notifications/deliveries/{d['id']}/retry").status_code == 200
        _run_deliver(api)
        if scheme == "udp":
            assert b"image_scanned" in udp.recv(65535)
        else:
            assert len(tcp.connections) == 1
    finally:
        udp.close()


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "::ffff:169.254.169.254", "fe80::1",
                                     "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::", "224.0.0.1"])
def test_link_local_and_metadata_addresses_are_refused_by_default(monkeypatch, address):
    monkeypatch.delenv("CONTAINERGUARD_EGRESS_ALLOW", raising=False)
    why = egress.refusal(address)
    assert why is not None and "egress policy" in why
    # refused before any socket is made: check() raises for the literal address
    with pytest.raises(egress.EgressRefused):
        egress.check(address, 80)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.5", "8.8.8.8", "::1",
                                     "2001:db8::1"])
def test_loopback_private_and_public_addresses_are_allowed_by_default(monkeypatch, address):
    monkeypatch.delenv("CONTAINERGUARD_EGRESS_DENY", raising=False)
    assert egress.refusal(address) is None


def test_an_admin_may_allow_a_metadata_range_and_deny_more(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_EGRESS_DENY", "10.0.0.0/8, 192.168.0.0/16")
    monkeypatch.setenv("CONTAINERGUARD_EGRESS_ALLOW", "169.254.10.0/24")
    assert egress.refusal("10.9.9.9") is not None and egress.refusal("192.168.1.1") is not None
    assert egress.refusal("169.254.10.7") is None and egress.refusal("169.254.169.254") is not None
    monkeypatch.setenv("CONTAINERGUARD_EGRESS_DENY", "not-a-network")
    with pytest.raises(egress.EgressRefused, match="not a network"):
        egress.refusal("8.8.8.8")



@pytest.fixture
def receivers():
    yield from receivers_of(Receiver)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "https://[fe80::1]:8443/hook",
                                 "http://[::ffff:169.254.169.254]/x", "http://100.100.100.200/", "udp://169.254.0.9:514",
                                 "http://0.0.0.0:80/x"])
def test_a_target_or_registry_at_a_refused_address_is_refused_when_added(api, env, url):
    kind = "syslog" if url.startswith("udp") else "webhook"
    r = api.post("/notifications/targets", json={"name": "meta", "kind": kind, "url": url})
    assert r.status_code == 422 and "egress policy" in r.text, r.text
    assert api.get("/notifications/targets").json() == []
    if kind == "webhook":
        base = url.split("/", 3)[:3]
        r = api.post("/registries", json={"name": "meta", "url": "/".join(base), "interval": 0})
        assert r.status_code == 422 and "egress policy" in r.text, r.text
        assert api.get("/registries").json() == []
    # the same address allowed explicitly by the administrator is accepted
    env.setenv("CONTAINERGUARD_EGRESS_ALLOW", "0.0.0.0/0,::/0")
    r = api.post("/notifications/targets", json={"name": "meta", "kind": kind, "url": url})
    assert r.status_code == 201, r.text
