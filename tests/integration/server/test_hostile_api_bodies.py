"""Hostile JSON bodies through the API on both backends: every management route answers a one-line 422 that
never echoes its input, and what was stored reads back the same; telemetry (agent reports) with a NUL or an
undecodable string is stored (the character replaced), not refused whole or failed with a 500."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.fernet import Fernet


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_SECRET_KEY", Fernet.generate_key().decode())

ROUTES = [("POST", "/tokens"), ("POST", "/exceptions"), ("POST", "/registries"), ("PATCH", "/registries/reg1"),
          ("POST", "/users"), ("POST", "/notifications/targets"), ("PATCH", "/notifications/targets/1"),
          ("PUT", "/notifications/targets/1/enabled"), ("PUT", "/policies"), ("POST", "/policy/decisions"),
          ("POST", "/agent/report"), ("POST", "/policy/reports")]

BODIES = {
    "not json": b"{'name': 1}",
    "truncated": b'{"name": "a", ',
    "json array": b"[1, 2]",
    "json string": b'"name"',
    "NaN": b'{"name": "t1", "role": "viewer", "interval": NaN}',
    "Infinity": b'{"name": "t1", "interval": -Infinity, "enabled": true}',
    "overflowing float": b'{"name": "t1", "role": "viewer", "interval": 1e400, "enabled": false}',
    "huge integer": b'{"name": "t1", "role": "viewer", "interval": ' + b"7" * 6000 + b"}",
    "nested 100 deep": b'{"name": "t1", "x": ' + b"[" * 100 + b"]" * 100 + b"}",
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "not utf-8": b'{"name": "\xc3\x28\xff"}',
    "wrong types": b'{"name": ["t1"], "role": {"a": 1}, "url": 7, "enabled": "yes", "files": 3}',
    "missing fields": b"{}",
    "null body": b"null",
}


def _state(api) -> dict[str, str]:
    """What an administrator sees through the API: compared before and after each hostile request."""
    paths = ("/tokens", "/registries", "/notifications/targets", "/exceptions?all=true", "/users", "/policies")
    out = {}
    for p in paths:
        r = api.get(p)
        assert r.status_code == 200, (p, r.text)
        rows = r.json()
        if p == "/tokens":  # the one field a request is meant to change
            rows = [{k: v for k, v in t.items() if k != "last_used"} for t in rows]
        out[p] = json.dumps(rows, sort_keys=True)
    return out


def _seed(api) -> None:
    assert api.post("/registries", json={"name": "reg1", "url": "https://a.example:5000", "username": "u", "password": "pw-seed",
                                         "interval": 0}).status_code == 201
    r = api.post("/notifications/targets", json={"name": "t-seed", "kind": "webhook", "url": "http://127.0.0.1:9/x"})
    assert r.status_code == 201, r.text
    assert api.post("/exceptions", json={"vuln_id": "CVE-2020-0001", "scope": "global", "kind": "risk_accepted",
                                         "reason": "seed"}).status_code == 201


def _one_line_422(r) -> str:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    body = r.json()
    detail = body["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail and len(detail) < 800, detail
    assert '"input"' not in json.dumps(body), body  # the offending value is never sent back
    return detail


def _send(api, method: str, path: str, raw: bytes, token: str | None = None):
    return api.client.request(method, f"/api/v1{path}", content=raw,
                              headers={**api.h(token), "content-type": "application/json"})


def test_malformed_bodies_on_every_writing_route_are_one_line_422(api):
    _seed(api)
    before = _state(api)
    tokens = {"/agent/report": api.token("agent", "node-b", host="node-b"), "/policy/reports": api.token("enforcer")}
    before = _state(api)
    for method, path in ROUTES:
        for label, raw in BODIES.items():
            if method == "PATCH" and label == "missing fields":
                continue  # an empty change is a valid no-op
            r = _send(api, method, path, raw, tokens.get(path))
            assert r.status_code == 422, (method, path, label, r.status_code, r.text[:200])
            detail = _one_line_422(r)
            if label in ("NaN", "Infinity", "overflowing float", "huge integer", "not utf-8", "nested 100 deep",
                         "nested 100000 deep"):
                assert detail.startswith("invalid JSON body"), (method, path, label, detail)
    assert _state(api) == before


@pytest.mark.parametrize("escape, word", [("\\u0000", "NUL"), ("\\ud800", "surrogate"), ("\\udfff", "surrogate")])
def test_nul_and_lone_surrogates_are_refused_by_name(api, escape, word):
    _seed(api)
    before = _state(api)
    cases = [
        ("POST", "/tokens", '{"name": "tok%s", "role": "viewer"}'),
        ("POST", "/registries", '{"name": "reg2", "url": "https://127.0.0.1:9/%s", "password": "p"}'),
        ("PATCH", "/registries/reg1", '{"username": "u%s"}'),
        ("POST", "/users", '{"name": "alice", "password": "correct horse battery%s", "role": "viewer"}'),
        ("POST", "/exceptions", '{"vuln_id": "CVE-2021-0002", "scope": "global", "kind": "false_positive", "reason": "x%s"}'),
        ("POST", "/notifications/targets", '{"name": "t%s", "kind": "webhook", "url": "http://127.0.0.1:9/"}'),
        ("PATCH", "/notifications/targets/1", '{"name": "renamed%s"}'),
        ("PUT", "/policies", '{"files": {"p%s.yaml": "x"}}'),
    ]
    for method, path, template in cases:
        detail = _one_line_422(_send(api, method, path, (template % escape).encode()))
        assert word in detail, (path, detail)
    assert _state(api) == before


def test_a_key_given_twice_is_refused_not_last_one_wins(api):
    """``{"role": "viewer", "role": "admin"}``: a proxy or a reviewer reading the first key sees a viewer."""
    before = _state(api)
    r = _send(api, "POST", "/tokens", b'{"name": "dup", "role": "viewer", "role": "admin"}')
    assert "'role' given twice" in _one_line_422(r)
    r = _send(api, "POST", "/notifications/targets",
              b'{"name": "t", "kind": "webhook", "url": "http://127.0.0.1:9/", "x": {"a": 1, "a": 2}}')
    assert "'a' given twice" in _one_line_422(r)
    assert _state(api) == before


def test_validation_errors_never_echo_secrets(api):
    secret = "S3cr3t-" + uuid.uuid4().hex
    cases = [("POST", "/registries", {"name": "r", "url": "https://127.0.0.1:9", "password": secret * 200}),
             ("POST", "/registries", {"name": "bad name!", "url": "https://127.0.0.1:9", "password": secret}),
             ("POST", "/registries", {"name": "r", "url": "https://127.0.0.1:9", "password": [secret]}),
             ("POST", "/users", {"name": "bob", "password": {"pw": secret}, "role": "viewer"}),
             ("POST", "/notifications/targets", {"name": "t", "kind": "pager", "url": f"https://h/{secret}"}),
             ("POST", "/tokens", {"name": secret * 20, "role": "viewer"})]
    for method, path, body in cases:
        r = api.client.request(method, f"/api/v1{path}", json=body, headers=api.h())
        _one_line_422(r)
        assert secret not in r.text, (path, r.text[:300])


def test_agent_telemetry_with_nul_and_undecodable_text_is_stored_not_refused(api):
    """A file name or command line on a monitored host can hold anything; an attacker there must not be able to
    get a whole batch of alerts refused (the agent sets it aside) or failed (retried for ever)."""
    tok = api.token("agent", "node-x", host="node-x")
    alert = {"uid": "u-hostile-1", "time": "2026-12-01T10:00:00Z", "rule": "Write below etc", "priority": "Error",
             "output": "opened /etc/\u0000x\udcff by sh", "container_id": "abc", "container_name": "we\udcffb",
             "output_fields": {"fd.name": "/etc/\u0000x", "k\ud800": "v"}, "tags": ["t\u0000"]}
    good = {**alert, "uid": "u-good-2", "output": "fine", "container_name": "web", "output_fields": {}, "tags": []}
    batch = {"host": "node-x", "batch_id": uuid.uuid4().hex, "alerts": [alert, good],
             "containers": [{"id": "ab" * 32, "name": "web\u0000", "image": "img\udcff:1"}]}
    raw = json.dumps(batch).encode()  # ensure_ascii: the surrogates travel as \\udcff escapes, as the agent sends them
    r = api.client.post("/api/v1/agent/report", content=raw,
                        headers={**api.h(tok), "content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["alerts_stored"] == 2 and r.json()["containers"] == 1
    alerts = {a["uid"]: a for a in api.get("/alerts?host=node-x").json()}
    assert alerts["u-hostile-1"]["output"] == "opened /etc/\ufffdx\ufffd by sh"
    assert alerts["u-good-2"]["output"] == "fine"
    running = api.get("/containers?host=node-x").json()
    assert running[0]["name"] == "web\ufffd" and running[0]["image"] == "img\ufffd:1"
    # a key given twice is still a malformed batch
    r = api.client.post("/api/v1/agent/report", content=b'{"host": "node-x", "host": "other", "batch_id": "b-12345678"}',
                        headers={**api.h(tok), "content-type": "application/json"})
    assert "'host' given twice" in _one_line_422(r)


def test_a_scan_of_a_hostile_image_with_nul_in_its_text_is_stored_on_both_backends(api, docs):
    """A NUL in a package's metadata (the image is the attacker's) must not keep the image out of the
    inventory on PostgreSQL, which refuses NUL in text: it is stored as U+FFFD, as on SQLite."""
    doc = json.loads(docs[1])
    doc["image"]["repo_tags"] = ["reg.example/nul\u0000app:1"]
    doc["findings"][0]["title"] = "bad\u0000title and a literal \\u0000 kept"
    r = api.post("/scans", content=json.dumps(doc))
    assert r.status_code == 201, r.text
    digest = r.json()["digest"]
    names = api.get(f"/images/{digest}").json()["names"]
    assert "reg.example/nul\ufffdapp" in [n["repository"] for n in names]
    titles = {f["title"] for f in api.get(f"/images/{digest}/findings?limit=1000").json()["items"]}
    assert "bad\ufffdtitle and a literal \\u0000 kept" in titles
    # a lone surrogate is no text at all: a one-line 422, nothing stored
    doc = json.loads(docs[2])
    doc["findings"][0]["title"] = "t\ud800"
    r = api.post("/scans", content=json.dumps(doc))
    assert r.status_code == 422 and "\n" not in r.json()["detail"]
    assert api.get("/images").json()["total"] == 1


def test_an_over_long_alert_is_cut_and_its_batch_stored(api):
    """A process picks its own command line: one alert whose output is past the limit must not get its whole
    batch refused (and so every other alert in it set aside by the agent)."""
    tok = api.token("agent", "node-long", host="node-long")
    long_cmd = "sh -c " + "A" * 40_000

    def alert(i: int, output: str) -> dict:
        return {"uid": f"u-long-{i:04d}", "time": "2026-12-01T10:00:00Z", "rule": "Shell " + "r" * 400,
                "priority": "Warning", "output": output, "container_name": "n" * 1000, "image": "i" * 2000,
                "tags": [f"t{j}" for j in range(100)]}

    batch = {"host": "node-long", "batch_id": uuid.uuid4().hex,
             "alerts": [alert(1, "before"), alert(2, long_cmd), alert(3, "after")],
             "containers": [{"id": "cd" * 32, "name": "c" * 300, "image": "x" * 600,
                             "mounts": [{"source": f"/s{j}", "destination": f"/d{j}"} for j in range(300)]}]}
    r = api.post("/agent/report", tok, json=batch)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["alerts_stored"] == 3 and r.json()["containers"] == 1
    alerts = {a["uid"]: a for a in api.get("/alerts?host=node-long").json()}
    cut = alerts["u-long-0002"]["output"]
    assert len(cut) == 16_384 and cut.startswith("sh -c AAAA") and cut.endswith("\u2026")
    assert alerts["u-long-0001"]["output"] == "before" and alerts["u-long-0003"]["output"] == "after"
    assert len(alerts["u-long-0001"]["rule"]) == 255
    # what stays refused: a batch that is malformed as a whole, not the text inside it
    r = api.post("/agent/report", tok, json={**batch, "batch_id": "short"})
    assert r.status_code == 422 and "batch_id" in r.json()["detail"]


def test_an_over_long_policy_decision_is_cut_and_its_batch_stored(api):
    """The deployer writes the pod spec an admission decision quotes: a long subject or many details in one
    decision must not get the enforcer's whole batch refused."""
    tok = api.token("enforcer", "webhook-long")

    def decision(i: int, subject: str, details: int) -> dict:
        return {"uid": f"d-long-{i:04d}", "time": "2026-12-01T10:00:00Z", "stage": "deploy", "allowed": False,
                "object": {"namespace": "ns", "kind": "Pod", "name": "p" * 400, "image": "i" * 900},
                "user": "u" * 300, "responses": ["r"] * 50,
                "violations": [{"policy": "CGT-LONG", "name": "long", "severity": "high", "action": "deny",
                                "subject": subject, "message": "m" * 9000, "details": ["d" * 3000] * details}]}

    batch = {"batch_id": uuid.uuid4().hex, "source": "admission", "instance": "wh-1",
             "decisions": [decision(1, "short", 1), decision(2, "S" * 5000, 500), decision(3, "short", 0)]}
    r = api.post("/policy/reports", tok, json=batch)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["decisions"] == 3
    subjects = [v["subject"] for v in api.get("/policy/violations?policy=CGT-LONG").json()]
    assert len(subjects) == 3 and max(len(s) for s in subjects) == 1024


def test_a_body_that_is_not_a_json_object_says_so(api):
    before = _state(api)
    for ctype, raw in (("text/plain", b'{"name": "x", "role": "viewer"}'), ("application/json", b"[]"),
                       ("application/x-www-form-urlencoded", b"name=x&role=viewer")):
        r = api.client.post("/api/v1/tokens", content=raw, headers={**api.h(), "content-type": ctype})
        assert "must be a JSON object" in _one_line_422(r), (ctype, r.text)
    assert _state(api) == before
