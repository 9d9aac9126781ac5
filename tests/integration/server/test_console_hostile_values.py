"""Values that agents, enforcement points and API callers store, shown by the console (both backends): markup in
any of them is text on every page that shows it, a host name holding a ``/`` still opens its page, and a live
stream asked to start past every id is refused up front instead of torn after it began."""

from __future__ import annotations

import re
import uuid

import pytest
from cryptography.fernet import Fernet

MARK = "<script>alert(7)</script><img src=x onerror=alert(8)>"
ESCAPED = "&lt;script&gt;alert(7)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_SECRET_KEY", Fernet.generate_key().decode())


def _login(api) -> None:
    page = api.client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = api.client.post("/login", data={"csrf_token": csrf, "token": api.admin, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]


def _seed(api) -> str:
    host = f"rack/7 {MARK}"
    agent = api.token("agent", "agent-x", host=host)
    alert = {"uid": "u-mark-00001", "time": "2026-12-01T10:00:00Z", "rule": f"rule {MARK}", "priority": "Critical",
             "output": f"output {MARK}", "container_id": "ab" * 6, "container_name": f"cname {MARK}",
             "image": f"img {MARK}", "output_fields": {f"k{MARK}": f"v{MARK}"}, "tags": [f"tag{MARK}"]}
    r = api.post("/agent/report", agent, json={
        "host": host, "batch_id": uuid.uuid4().hex, "alerts": [alert],
        "containers": [{"id": "ab" * 32, "name": f"cname {MARK}", "image": f"img {MARK}"}]})
    assert r.status_code == 200, r.text
    assert api.post("/tokens", json={"name": f"tok {MARK}", "role": "viewer"}).status_code == 201
    r = api.post("/notifications/targets", json={"name": f"tgt {MARK}", "kind": "webhook", "url": "http://127.0.0.1:9/x"})
    assert r.status_code == 201, r.text
    r = api.post("/exceptions", json={"vuln_id": "CVE-2020-0001", "scope": "global", "kind": "risk_accepted",
                                      "reason": f"reason {MARK}"})
    assert r.status_code == 201, r.text
    enforcer = api.token("enforcer")
    r = api.post("/policy/reports", enforcer, json={
        "batch_id": uuid.uuid4().hex, "source": "admission", "instance": f"webhook {MARK}"[:255],
        "decisions": [{"uid": "d-mark-00001", "time": "2026-12-01T10:00:00Z", "stage": "deploy", "allowed": False,
                       "object": {"namespace": f"ns {MARK}", "kind": "Pod", "name": f"pod {MARK}", "image": f"img {MARK}"},
                       "user": f"user {MARK}",
                       "violations": [{"policy": "CGT-MARK", "name": f"name {MARK}", "severity": "high", "action": "deny",
                                       "subject": f"subject {MARK}", "message": f"message {MARK}"}]}]})
    assert r.status_code == 200, r.text
    return host


def test_stored_markup_is_text_on_every_console_page(api):
    host = _seed(api)
    _login(api)
    alert_id = api.get("/alerts").json()[0]["id"]
    from urllib.parse import quote

    pages = ["/", "/runtime", "/manage", "/audit", "/policies", "/risk?kind=containers", f"/runtime/alerts/{alert_id}",
             f"/runtime/hosts/{quote(host)}", f"/runtime?rule={quote(MARK)}"]
    for path in pages:
        r = api.client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert "<script>alert(7)" not in r.text and "<img src=x" not in r.text, path
        assert "alert(7)" not in r.text or ESCAPED in r.text, path
    # the values do reach the pages (so the checks above are not vacuous)
    assert ESCAPED in api.client.get(f"/runtime/alerts/{alert_id}").text
    assert ESCAPED in api.client.get("/manage").text
    assert ESCAPED in api.client.get("/policies").text
    host_page = api.client.get(f"/runtime/hosts/{quote(host)}")
    assert "rack/7 &lt;script&gt;" in host_page.text  # a host name with a / opens its own page


def test_a_live_stream_past_every_id_is_refused_before_it_starts(api):
    _login(api)
    for after in ("9" * 20, "-1"):
        r = api.client.get(f"/runtime/stream?after={after}")
        assert r.status_code == 422, (after, r.status_code, r.text[:200])
        assert "after" in r.json()["detail"]
