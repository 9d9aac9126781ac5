"""The REST API through its real HTTP stack (FastAPI TestClient), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from containerguard.server.store.models import Finding, Image, ImageName, Inventory


def _count(api, model) -> int:
    with api.app.state.cg.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_upload_then_list_images_with_digests_and_counts(api, docs):
    ci = api.token("ci")
    for d in docs[:3]:
        r = api.post("/scans", ci, content=d)
        assert r.status_code == 201, r.text
        assert r.json()["created"] is True
    r = api.get("/images")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    expected = {json.loads(d)["image"]["id"] for d in docs[:3]}
    assert {i["digest"] for i in body["items"]} == expected
    for item in body["items"]:
        doc = next(json.loads(d) for d in docs if json.loads(d)["image"]["id"] == item["digest"])
        sev = [f["severity"] for f in doc["findings"]]
        assert item["critical"] == sev.count("CRITICAL") and item["high"] == sev.count("HIGH")
        assert item["medium"] == sev.count("MEDIUM")
        assert item["os_family"] == "alpine"
    # highest risk first
    risks = [i["max_risk"] for i in body["items"]]
    assert risks == sorted(risks, reverse=True)
    # findings of one image, through the API
    one = body["items"][0]
    r = api.get(f"/images/{one['digest']}/findings?limit=500")
    assert r.status_code == 200
    ids = {f["vuln_id"] for f in r.json()["items"]}
    doc = next(json.loads(d) for d in docs if json.loads(d)["image"]["id"] == one["digest"])
    assert ids == {f["id"] for f in doc["findings"]}
    # the stored SBOM reads back with the same packages
    sbom = api.get(f"/images/{one['digest']}/sbom").json()
    assert sorted(p["name"] for p in sbom["packages"]) == sorted(p["name"] for p in doc["packages"])


def test_uploaded_secret_findings_are_stored_masked(api, docs):
    """A document whose secret findings quote the raw value (an older client, or one written by hand) is
    masked by the scanner's redaction before it is stored: the raw value is nowhere in the API's answers."""
    doc = json.loads(docs[1])
    raw = "AKIA" + "QYLPMN5HFIQR7XYZ"  # an AWS access key id shape, split so this file is not itself a finding
    leak = dict(doc["findings"][0], kind="secret", id="aws-access-key-id", severity="CRITICAL",
                title=f"AWS access key {raw}", description=f"export AWS_ACCESS_KEY_ID={raw}", match=raw,
                path="app/.env", extra={})
    doc["findings"].append(leak)
    assert api.post("/scans", api.token("ci"), content=json.dumps(doc).encode()).status_code == 201
    r = api.get(f"/images/{doc['image']['id']}/findings?limit=500")
    assert r.status_code == 200
    secrets = [f for f in r.json()["items"] if f["vuln_id"] == "aws-access-key-id"]
    assert len(secrets) == 1
    assert raw not in r.text
    with api.app.state.cg.sessions() as s:
        stored = [f.title for f in s.scalars(select(Finding))]
    assert stored and not any(raw in t for t in stored)


def test_same_digest_is_stored_once(api, docs):
    for _ in range(3):
        assert api.post("/scans", content=docs[0]).status_code == 201
    assert _count(api, Image) == 1
    assert _count(api, Inventory) == 1
    n = len(json.loads(docs[0])["findings"])
    assert _count(api, Finding) == n


def test_forged_digest_never_overwrites(api, docs):
    """Another image's inventory claiming an existing digest is refused; nothing of it is stored."""
    assert api.post("/scans", content=docs[0]).status_code == 201
    victim = json.loads(docs[0])["image"]["id"]
    before = api.get(f"/images/{victim}/findings?limit=1000").json()
    forged = json.loads(docs[1])
    forged["image"]["id"] = victim
    r = api.post("/scans", content=json.dumps(forged))
    assert r.status_code == 409
    assert "different inventory" in r.json()["detail"]
    after = api.get(f"/images/{victim}/findings?limit=1000").json()
    assert after == before
    assert _count(api, Image) == 1


def test_a_tag_moving_to_another_digest_keeps_both_images(api, docs):
    a, b = json.loads(docs[0]), json.loads(docs[1])
    a["image"]["repo_tags"] = ["registry.example/team/app:1.0"]
    b["image"]["repo_tags"] = ["registry.example/team/app:1.0"]
    assert api.post("/scans", content=json.dumps(a)).status_code == 201
    assert api.post("/scans", content=json.dumps(b)).status_code == 201
    items = api.get("/images?name=team/app").json()["items"]
    assert {i["digest"] for i in items} == {a["image"]["id"], b["image"]["id"]}
    detail = api.get(f"/images/{a['image']['id']}").json()
    assert ("registry.example/team/app", "1.0") in {(n["repository"], n["tag"]) for n in detail["names"]}
    assert detail["name"] == "registry.example/team/app:1.0"


@pytest.mark.parametrize("body, status", [
    (b"{not json", 422),
    (b"[]", 422),
    (b'{"schema_version": 99, "packages": []}', 422),
    (b'{"schema_version": 1, "target": "x", "os": {"family": "alpine"}, "packages": "nope"}', 422),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}', 422),  # no digest
    (b"", 400),
])
def test_malformed_uploads_are_4xx_and_write_nothing(api, body, status):
    r = api.post("/scans", content=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert _count(api, Image) == 0 and _count(api, Finding) == 0 and _count(api, ImageName) == 0


def test_invalid_digest_and_sql_metacharacters(api, docs):
    doc = json.loads(docs[0])
    doc["image"]["id"] = "sha256:'; DROP TABLE images; --"
    r = api.post("/scans", content=json.dumps(doc))
    assert r.status_code == 422 and "invalid image digest" in r.json()["detail"]
    doc = json.loads(docs[0])
    doc["image"]["repo_tags"] = ["evil/x'); DELETE FROM findings; --:1%_\\"]
    assert api.post("/scans", content=json.dumps(doc)).status_code == 201
    r = api.get("/images", params={"name": "x'); DELETE"})
    assert r.json()["total"] == 1
    assert api.get("/images", params={"name": "%"}).json()["total"] == 1  # a literal %, escaped
    assert api.get("/images", params={"name": "_\\"}).json()["total"] == 1
    assert api.get("/images", params={"name": "zz%"}).json()["total"] == 0
    assert _count(api, Finding) == len(doc["findings"])


def test_oversized_upload_is_413_and_writes_nothing(backend, tmp_path, docs):
    from tests.integration.server.conftest import make_api

    gen = make_api(backend, tmp_path, max_body_bytes=64 * 1024)
    api = next(gen)
    try:
        big = json.loads(docs[0])
        big["padding"] = "x" * (200 * 1024)
        r = api.post("/scans", content=json.dumps(big))
        assert r.status_code == 413
        # chunked, without a Content-Length
        def chunks():
            data = json.dumps(big).encode()
            for i in range(0, len(data), 8192):
                yield data[i:i + 8192]
        r = api.post("/scans", content=chunks())
        assert r.status_code == 413
        assert _count(api, Image) == 0
    finally:
        gen.close()


def test_exceptions_mark_findings_and_lapse(api, docs):
    api.post("/scans", content=docs[0])
    doc = json.loads(docs[0])
    digest = doc["image"]["id"]
    vuln = next(f for f in doc["findings"] if f["kind"] == "vulnerability")
    analyst = api.token("analyst")
    r = api.post("/exceptions", analyst, json={"vuln_id": vuln["id"], "scope": "image", "kind": "risk_accepted",
                                               "reason": "not reachable in our use", "image_digest": digest,
                                               "expires_at": "2999-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    exc_id = r.json()["id"]
    assert r.json()["author"] == "analyst-token (analyst)"
    marked = [f for f in api.get(f"/images/{digest}/findings?limit=500").json()["items"] if f["exception"]]
    assert {f["vuln_id"] for f in marked} == {vuln["id"]}
    # a CI token reads them
    ci = api.token("ci")
    assert [e["id"] for e in api.get("/exceptions", ci).json()] == [exc_id]
    # past expiry refused; revoke keeps the record
    bad = api.post("/exceptions", analyst, json={"vuln_id": "X", "scope": "global", "kind": "false_positive",
                                                 "reason": "r", "expires_at": "2000-01-01T00:00:00Z"})
    assert bad.status_code == 422
    assert api.delete(f"/exceptions/{exc_id}", analyst).status_code == 200
    assert api.get("/exceptions").json() == []
    assert [e["id"] for e in api.get("/exceptions?all=true").json()] == [exc_id]
    assert not [f for f in api.get(f"/images/{digest}/findings?limit=500").json()["items"] if f["exception"]]
    # the audit log says who did what from where
    entries = api.get("/audit?limit=20").json()
    actions = [(e["action"], e["actor"], e["remote_addr"]) for e in entries]
    assert ("exception.create", "analyst-token (analyst)", "203.0.113.7") in actions
    assert ("exception.revoke", "analyst-token (analyst)", "203.0.113.7") in actions


def test_expired_exception_lapses_by_itself(api, docs):
    import datetime as dt

    from containerguard.server.store.models import FindingException

    api.post("/scans", content=docs[0])
    doc = json.loads(docs[0])
    vuln = next(f for f in doc["findings"] if f["kind"] == "vulnerability")
    r = api.post("/exceptions", json={"vuln_id": vuln["id"], "scope": "global", "kind": "false_positive",
                                      "reason": "r", "expires_at": "2999-01-01T00:00:00Z"})
    with api.app.state.cg.sessions() as s, s.begin():
        s.get(FindingException, r.json()["id"]).expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert api.get("/exceptions").json() == []
    assert not [f for f in api.get(f"/images/{doc['image']['id']}/findings?limit=500").json()["items"] if f["exception"]]


def test_tokens_are_hashed_revocable_and_bootstrap_is_once(api, backend, tmp_path):
    from containerguard.server.app import prepare
    from containerguard.server.settings import Settings
    from containerguard.server.store.models import ApiToken

    t = api.token("viewer", "dashboards")
    with api.app.state.cg.sessions() as s:
        stored = [r.token_hash for r in s.scalars(select(ApiToken))]
    assert t not in stored and all(len(h) == 64 for h in stored)
    assert api.get("/images", t).status_code == 200
    tid = next(x["id"] for x in api.get("/tokens").json() if x["name"] == "dashboards")
    assert api.delete(f"/tokens/{tid}").status_code == 200
    r = api.get("/images", t)
    assert r.status_code == 401
    # a second start creates no second admin token
    assert prepare(Settings(db=backend, data_dir=tmp_path)).admin_token is None


def test_auth_failures_are_rate_limited(api):
    for _ in range(20):
        assert api.get("/images", "cg_wrongwrongwrongwrongwrongwrong").status_code == 401
    assert api.get("/images", "cg_wrongwrongwrongwrongwrongwrong").status_code == 429
    assert api.get("/images").status_code == 429  # even a good token, from that address, for a minute


def test_health_ready_metrics_openapi(api, docs):
    api.post("/scans", content=docs[0])
    assert api.client.get("/healthz").json()["status"] == "ok"
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["migration"]
    spec = api.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/images" in spec["paths"] and "/api/v1/scans" in spec["paths"]
    m = api.client.get("/metrics").text
    assert "containerguard_images 1.0" in m
    assert 'containerguard_findings{severity="HIGH"}' in m
