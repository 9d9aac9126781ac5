"""Notifications end to end: real HTTP receivers and syslog listeners on loopback, events raised by real
triggers (scan uploads), deliveries sent by the server's job queue, retries with backoff, dead letters."""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tests.fixtures import server as srv

from containerguard.server.store.models import NotificationTarget

HOSTILE = 'evil|name=x\\y\nCEF:0|forged|<b>&"markup"</b>\r\nmore'


class Receiver:
    """An HTTP receiver on 127.0.0.1 that fails its first ``fail`` requests (HTTP 500)."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.hits: list[tuple[float, str, Any, dict[str, str]]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.hits.append((time.monotonic(), self.path, json.loads(body), dict(self.headers)))
                code = 500 if outer.fail < 0 or len(outer.hits) <= outer.fail else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"nope" if code == 500 else b"ok")

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def secret_key(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CONTAINERGUARD_NOTIFY_BACKOFF", "0.3")
    monkeypatch.setenv("CONTAINERGUARD_NOTIFY_ATTEMPTS", "3")


@pytest.fixture
def receivers():
    yield from receivers_of(Receiver)


def receivers_of(cls: type[Receiver]) -> Any:
    """Make receivers of ``cls`` on demand; close them all afterwards (the fixture's body, for other modules)."""
    made: list[Receiver] = []

    def make(fail: int = 0) -> Receiver:
        r = cls(fail)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def deliver_until(api, pred, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        api.app.state.cg.jobs.defer("deliver")
        api.wait_jobs()
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def add_target(api, **body) -> dict[str, Any]:
    r = api.post("/notifications/targets", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_webhook_and_slack_receive_a_scan_upload_event(api, docs, secret_key, receivers):
    hook, slack = receivers(), receivers()
    secret_path = "/services/T000/B000/XXXXsecretTOKEN"
    t1 = add_target(api, name="hook", kind="webhook", url=hook.url + "/in?token=s3cr3t", event_types=["image_scanned"])
    add_target(api, name="slack", kind="slack", url=slack.url + secret_path)
    add_target(api, name="other", kind="webhook", url=hook.url + "/other", event_types=["runtime_alert"])
    # URLs carry tokens: shown redacted, stored encrypted
    listed = api.get("/notifications/targets").json()
    assert {t["url"] for t in listed} == {hook.url + "/…", slack.url + "/…"}
    with api.app.state.cg.sessions() as s:
        stored = [(t.url, t.url_enc) for t in s.scalars(select(NotificationTarget))]
    assert all("s3cr3t" not in u + e and "secretTOKEN" not in u + e for u, e in stored)
    r = api.post("/scans", content=docs[0], params={"name": "registry.test/app:" + "x"})
    assert r.status_code == 201, r.text
    digest = r.json()["digest"]
    deliver_until(api, lambda: len(hook.hits) >= 1 and len(slack.hits) >= 1)
    _, path, body, headers = hook.hits[0]
    assert path == "/in?token=s3cr3t"
    assert body["event"]["type"] == "image_scanned" and body["event"]["image_digest"] == digest
    assert headers["X-ContainerGuard-Event"] == "image_scanned"
    assert all(h[1] != "/other" for h in hook.hits)  # the runtime-alert target's rule did not match
    _, path, sbody, _ = slack.hits[0]
    assert path == secret_path and "scanned" in sbody["text"] and sbody["blocks"][0]["type"] == "section"
    sent = api.get("/notifications/deliveries", params={"status": "sent"}).json()
    assert {d["target"]["name"] for d in sent} == {"hook", "slack"}
    audit = api.get("/audit", params={"action": "notification_target.create"}).json()
    assert {a["object_id"] for a in audit} >= {str(t1["id"])}
    # removal is audited and stops deliveries
    assert api.delete(f"/notifications/targets/{t1['id']}").status_code == 200
    assert api.get("/audit", params={"action": "notification_target.delete"}).json()[0]["object_id"] == str(t1["id"])


def test_retries_with_backoff_then_dead_letter_and_retry(api, docs, secret_key, receivers):
    flaky, down = receivers(fail=2), receivers(fail=-1)
    add_target(api, name="flaky", kind="webhook", url=flaky.url + "/f", event_types=["image_scanned"])
    dead_t = add_target(api, name="down", kind="slack", url=down.url + "/d", event_types=["image_scanned"])
    assert api.post("/scans", content=docs[1]).status_code == 201
    deliver_until(api, lambda: len(flaky.hits) >= 3 and len(down.hits) >= 3)
    times = [h[0] for h in flaky.hits]
    assert len(flaky.hits) == 3  # failed twice, then delivered once
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.6  # exponential backoff (base 0.3 s)
    dead = api.get("/notifications/deliveries", params={"status": "dead"}).json()
    assert [(d["target"]["name"], d["attempts"]) for d in dead] == [("down", 3)]
    assert dead[0]["last_error"].startswith("RuntimeError: HTTP 500")
    assert api.get("/notifications/targets").json()[0]["deliveries"] == {"dead": 1}
    # the receiver comes back; an admin retries the dead letter
    down.fail = 0
    viewer = api.token("viewer", "v")
    assert api.post(f"/notifications/deliveries/{dead[0]['id']}/retry", token=viewer).status_code == 403
    assert api.post(f"/notifications/deliveries/{dead[0]['id']}/retry").status_code == 200
    deliver_until(api, lambda: len(down.hits) == 4)
    assert api.get("/notifications/deliveries", params={"status": "dead"}).json() == []
    assert api.get("/notifications/deliveries", params={"target_id": dead_t["id"]}).json()[0]["status"] == "sent"
    assert api.post("/notifications/deliveries/999999/retry").status_code == 404


def _cef_fields(line: str) -> tuple[list[str], dict[str, str]]:
    """Split a CEF record the way a SIEM does: 7 header fields on unescaped pipes, then key=value pairs."""
    parts = re.split(r"(?<!\\)\|", line, maxsplit=7)
    assert len(parts) == 8, line
    ext: dict[str, str] = {}
    for m in re.finditer(r"(\w+)=((?:[^=\\]|\\.)*?)(?=\s+\w+=|$)", parts[7]):
        ext[m.group(1)] = re.sub(r"\\(.)", lambda g: {"n": "\n", "r": "\r"}.get(g.group(1), g.group(1)), m.group(2))
    return parts[:7], ext


class _Tcp(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        head = b""
        while not head.endswith(b" "):
            c = self.rfile.read(1)
            if not c:
                return
            head += c
        self.server.got.append(self.rfile.read(int(head)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_syslog_cef_survives_hostile_text(api, docs, secret_key, proto):
    if proto == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
    else:
        tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Tcp)
        tcp.got = []  # type: ignore[attr-defined]
        threading.Thread(target=tcp.serve_forever, daemon=True).start()
        port = tcp.server_address[1]
    try:
        add_target(api, name="siem", kind="syslog", url=f"{proto}://127.0.0.1:{port}", event_types=["image_scanned"])
        # hostile text in the image name reaches the event summary
        assert api.post("/scans", content=docs[2], params={"name": "reg.test/x:1"}).status_code == 201
        api.app.state.cg.jobs.defer("deliver")
        api.wait_jobs()
        if proto == "udp":
            raw = sock.recv(65535)
        else:
            deadline = time.monotonic() + 10
            while not tcp.got and time.monotonic() < deadline:  # type: ignore[attr-defined]
                time.sleep(0.05)
            raw = tcp.got[0]  # type: ignore[attr-defined]
        msg = raw.decode()
        m = re.match(r"<(\d+)>1 (\S+) (\S+) containerguard (\d+) image_scanned - (CEF:0\|.*)$", msg, re.S)
        assert m, msg
        assert "\n" not in msg and "\r" not in msg
        head, ext = _cef_fields(m.group(5))
        assert head[:5] == ["CEF:0", "ContainerGuard", "ContainerGuard", head[3], "image_scanned"]
        assert ext["cat"] == "image_scanned" and ext["cs1Label"] == "imageDigest"
    finally:
        if proto == "udp":
            sock.close()
        else:
            tcp.shutdown()
            tcp.server_close()


def test_cef_and_payloads_escape_hostile_text():
    from containerguard.server.services import notify

    ev = {"id": 7, "type": "runtime_alert", "at": "2026-12-01T10:00:00+00:00", "severity": "critical",
          "summary": HOSTILE, "image_digest": "", "host": "h|1=2\nx", "detail": {"rule": HOSTILE, "image": "a=b\\"}}
    line = notify.cef_record(ev)
    assert "\n" not in line and "\r" not in line
    head, ext = _cef_fields(line)
    assert head[5] == notify.cef_header(HOSTILE[:200]) and len(head) == 7
    assert ext["msg"] == HOSTILE.replace("\r\n", "\n") and ext["cs3"] == HOSTILE.replace("\r\n", "\n")
    assert ext["dhost"] == "h|1=2\nx" and ext["cs5"] == "a=b\\"
    assert set(ext) == {"rt", "msg", "externalId", "cat", "dhost", "cs3Label", "cs3", "cs5Label", "cs5"}
    slack = notify.slack_payload(ev)
    assert "<b>" not in slack["text"] and "&lt;b&gt;" in slack["text"]
    assert json.loads(json.dumps(notify.webhook_payload(ev)))["event"]["summary"] == HOSTILE


def test_bad_targets_are_refused_with_a_reason(api, secret_key):
    for body, word in [({"name": "a", "kind": "syslog", "url": "http://x"}, "udp://"),
                       ({"name": "a", "kind": "webhook", "url": "ftp://x"}, "http(s)"),
                       ({"name": "a", "kind": "webhook", "url": "http://x:99999/"}, "port"),
                       ({"name": "a", "kind": "webhook", "url": "http://x/", "min_severity": "worst"}, "severity")]:
        r = api.post("/notifications/targets", json=body)
        assert r.status_code == 422 and word in r.text, r.text
    assert api.post("/notifications/targets", json={"name": "a", "kind": "pager", "url": "http://x/"}).status_code == 422
    add_target(api, name="a", kind="syslog", url="udp://127.0.0.1:9")
    assert api.post("/notifications/targets", json={"name": "a", "kind": "syslog", "url": "udp://127.0.0.1:9"}).status_code == 409
    assert api.get("/notifications/targets").json()[0]["url"] == "udp://127.0.0.1:9"


def test_webhook_needs_the_secret_key(api, monkeypatch):
    monkeypatch.delenv("CONTAINERGUARD_SECRET_KEY", raising=False)
    r = api.post("/notifications/targets", json={"name": "a", "kind": "webhook", "url": "http://127.0.0.1:9/t"})
    assert r.status_code == 400 and "CONTAINERGUARD_SECRET_KEY" in r.text
    assert api.get("/notifications/targets").json() == []


def test_cli_and_real_server_process(tmp_path, receivers):
    import os
    import subprocess
    import sys

    key = Fernet.generate_key().decode()
    hook = receivers()
    env = {"CONTAINERGUARD_SECRET_KEY": key, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env=env)
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        cli_env = {**os.environ, "CONTAINERGUARD_SERVER": s.url, "CONTAINERGUARD_TOKEN": admin, "COLUMNS": "250"}

        def cg(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "containerguard.cli.main", "notify", *args], capture_output=True,
                                  text=True, cwd=srv.ROOT, env=cli_env, timeout=120)

        r = cg("add", "ops[bold]", hook.url + "/hook/TOKEN123", "--event", "image_scanned", "--event", "test")
        assert r.returncode == 2 and "runtime_alert" in r.stderr  # "test" is no event type a rule can name
        r = cg("add", "ops[bold]", hook.url + "/hook/TOKEN123", "--event", "image_scanned")
        assert r.returncode == 0, r.stderr
        r = cg("list")
        assert r.returncode == 0 and "ops[bold]" in r.stdout and "TOKEN123" not in r.stdout
        tid = json.loads(cg("list", "--json").stdout)[0]["id"]
        assert cg("test", str(tid)).returncode == 0
        deadline = time.monotonic() + 30
        while not hook.hits and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hook.hits and hook.hits[0][2]["event"]["type"] == "test" and hook.hits[0][1] == "/hook/TOKEN123"
        # a real trigger: a scan upload; the scheduler's tick sends it
        import httpx

        httpx.post(f"{s.url}/api/v1/scans", content=srv.scan_documents(6)[3],
                   headers={"Authorization": f"Bearer {admin}"}).raise_for_status()
        deadline = time.monotonic() + 30
        while len(hook.hits) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hook.hits[-1][2]["event"]["type"] == "image_scanned"
        out = json.loads(cg("deliveries", "--json").stdout)
        assert [d["status"] for d in out] == ["sent", "sent"]
        assert cg("remove", str(tid)).returncode == 0
        assert json.loads(cg("list", "--json").stdout) == []
    finally:
        s.stop()


def _report(api, token: str, batch: str, **body: Any) -> None:
    r = api.post("/agent/report", token=token, json={"host": "node-1", "batch_id": batch, **body})
    assert r.status_code in (200, 201, 202), r.text


def test_kev_finding_in_a_running_image_and_runtime_alerts_by_priority(api, docs, secret_key, receivers):
    kev_hook, warn, crit = receivers(), receivers(), receivers()
    add_target(api, name="kev", kind="webhook", url=kev_hook.url + "/kev", event_types=["new_kev_finding"],
               running_only=True)
    add_target(api, name="warn", kind="webhook", url=warn.url + "/w", event_types=["runtime_alert"], min_priority="warning")
    add_target(api, name="crit", kind="slack", url=crit.url + "/c", event_types=["runtime_alert"], min_priority="critical")
    agent = api.token("agent", "node-1", host="node-1")
    digest = json.loads(docs[3])["image"]["id"]
    # the agent reports the image running, then CI uploads its scan (with a KEV finding)
    _report(api, agent, "batch-0001", containers=[{"id": "ab" * 32, "name": "web", "image": "reg.test/web:1",
                                                   "image_id": digest}])
    assert api.post("/scans", content=docs[0]).status_code == 201  # not running: no finding event
    assert api.post("/scans", content=docs[3]).status_code == 201
    deliver_until(api, lambda: len(kev_hook.hits) >= 1)
    ev = kev_hook.hits[0][2]["event"]
    assert ev["type"] == "new_kev_finding" and ev["image_digest"] == digest and ev["detail"]["running"] is True
    assert ev["detail"]["hosts"] == ["node-1"] and ev["detail"]["vuln_id"] == "CVE-2023-4863"
    assert {h[2]["event"]["image_digest"] for h in kev_hook.hits} == {digest}
    # runtime alerts: WARNING reaches the warning target only; CRITICAL both; hostile output intact in JSON
    now = "2026-12-01T10:00:00Z"
    alerts = [{"uid": "alert-000001", "time": now, "rule": "Shell in container", "priority": "Warning",
               "output": HOSTILE, "container_name": "web"},
              {"uid": "alert-000002", "time": now, "rule": "Write below etc|x=1", "priority": "Critical",
               "output": "<script>alert(1)</script> & more", "container_name": "web"},
              {"uid": "alert-000003", "time": now, "rule": "Noise", "priority": "Notice", "output": "n"}]
    _report(api, agent, "batch-0002", alerts=alerts)
    deliver_until(api, lambda: len(warn.hits) >= 2 and len(crit.hits) >= 1)
    time.sleep(0.2)
    got = sorted(h[2]["event"]["detail"]["rule"] for h in warn.hits)
    assert got == ["Shell in container", "Write below etc|x=1"]
    assert any(HOSTILE[:300] in h[2]["event"]["summary"] for h in warn.hits)
    assert len(crit.hits) == 1
    text = crit.hits[0][2]["text"]
    assert "<script>" not in text and "&lt;script&gt;" in text and "Write below etc|x=1" in text
