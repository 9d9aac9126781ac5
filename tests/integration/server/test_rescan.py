"""Rescans through the API: an SBOM upload is matched by the server; a rescan re-matches every stored
inventory without the image and raises events for findings that are new, naming the hosts running it."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import delete, select

from containerguard.model import Severity
from containerguard.server.store.models import Finding, Image


def test_sbom_upload_is_matched_by_the_server(api, docs):
    doc = json.loads(docs[0])
    sbom = {k: doc[k] for k in ("schema_version", "tool", "target", "created", "os", "image", "layers", "packages",
                                "inventory")}
    sbom["file_findings"] = []
    r = api.post("/scans", content=json.dumps(sbom))
    assert r.status_code == 201, r.text
    assert r.json()["matched_by_server"] is True
    api.wait_jobs()
    got = {f["vuln_id"] for f in api.get(f"/images/{doc['image']['id']}/findings?limit=500&kind=vulnerability").json()["items"]}
    want = {f["id"] for f in doc["findings"] if f["kind"] == "vulnerability"}
    assert got == want and got


def test_rescan_raises_events_for_new_findings_on_running_images(api, docs):
    doc = json.loads(docs[1])
    digest = doc["image"]["id"]
    assert api.post("/scans", content=docs[1]).status_code == 201
    agent = api.token("agent", "node-7")
    api.post("/agent/report", agent, json={"host": "node-7", "batch_id": uuid.uuid4().hex, "containers": [
        {"id": "f" * 64, "name": "web", "image": "team/app:1", "image_id": digest}]})
    # as if the advisory database had lacked these when the image was first scanned
    with api.app.state.cg.sessions() as s, s.begin():
        img = s.scalars(select(Image).where(Image.digest == digest)).one()
        gone = [r for r in s.scalars(select(Finding).where(Finding.image_id == img.id, Finding.kind == "vulnerability",
                                                           Finding.severity >= int(Severity.HIGH)))]
        assert gone, "the fixture image has no HIGH/CRITICAL vulnerability"
        s.execute(delete(Finding).where(Finding.id.in_([g.id for g in gone])))
    def high() -> int:
        return api.get(f"/images/{digest}/findings?kind=vulnerability&min_severity=HIGH&limit=1").json()["total"]

    before = high()
    analyst = api.token("analyst")
    assert api.post("/rescans", analyst).status_code == 202
    api.wait_jobs()
    assert high() == before + len(gone)
    events = api.get("/events?limit=100").json()
    new = [e for e in events if e["type"] in ("new_finding", "new_kev_finding")]
    assert {e["detail"]["vuln_id"] for e in new} == {g.vuln_id for g in gone}
    assert all("running on node-7" in e["summary"] and e["host"] == "node-7" for e in new)
    jobs = api.get("/jobs?kind=rescan_batch").json()
    assert jobs and jobs[0]["status"] == "done" and jobs[0]["result"]["images"] == 1
    # a second rescan finds nothing new
    api.post("/rescans", analyst)
    api.wait_jobs()
    assert len([e for e in api.get("/events?limit=100").json() if e["type"] in ("new_finding", "new_kev_finding")]) == len(new)


def test_rescan_writes_only_the_difference_and_keeps_counts_and_exceptions_right(api, docs):
    """Several images in one rescan batch: a finding the database no longer matches goes, a missing one comes back
    (an exception naming it applies), a moved risk is corrected, unchanged findings keep their rows,
    and each image's counts and maximum risk equal what its findings say."""
    digests = []
    for d in docs[2:5]:
        assert api.post("/scans", content=d).status_code == 201
        digests.append(json.loads(d)["image"]["id"])
    target = digests[0]
    with api.app.state.cg.sessions() as s, s.begin():
        img = s.scalars(select(Image).where(Image.digest == target)).one()
        vulns = list(s.scalars(select(Finding).where(Finding.image_id == img.id, Finding.kind == "vulnerability")
                               .order_by(Finding.risk.desc())))
        assert len(vulns) >= 3, "the fixture image has too few vulnerabilities"
        top, moved, kept = vulns[0], vulns[1], vulns[2:]
        removed_vuln, moved_id, moved_risk = top.vuln_id, moved.id, moved.risk
        kept_rows = {f.id for f in kept}
        s.delete(top)  # as if the advisory had been published after the image was scanned
        moved.risk = 0.5
        stale = Finding(image_id=img.id, fingerprint="f" * 64, kind="vulnerability", vuln_id="CVE-1999-0001",
                        title="withdrawn advisory", severity=int(Severity.CRITICAL), package_name="x", risk=99.0)
        s.add(stale)
        img.critical, img.max_risk = 40, 99.0  # stale counts
    analyst = api.token("analyst")
    r = api.post("/exceptions", analyst, json={"vuln_id": removed_vuln, "scope": "image", "kind": "risk_accepted",
                                               "reason": "not reachable", "image_digest": target})
    assert r.status_code == 201, r.text
    assert api.post("/rescans", analyst).status_code == 202
    api.wait_jobs()
    jobs = api.get("/jobs?kind=rescan_batch").json()
    assert jobs[0]["status"] == "done" and jobs[0]["result"]["images"] == 3
    for digest, d in zip(digests, docs[2:5], strict=True):
        doc = json.loads(d)
        items = api.get(f"/images/{digest}/findings?limit=500").json()["items"]
        assert sorted((f["kind"], f["vuln_id"]) for f in items) == sorted((f["kind"], f["id"]) for f in doc["findings"])
        image = api.get(f"/images/{digest}").json()
        sev = [f["severity"] for f in items]
        assert (image["critical"], image["high"], image["medium"], image["low"]) == (
            sev.count("CRITICAL"), sev.count("HIGH"), sev.count("MEDIUM"), sev.count("LOW"))
        assert image["kev"] == sum(bool(f["kev"]) for f in items)
        assert image["max_risk"] == max((f["risk"] for f in items), default=0.0)
        if digest == target:
            by_id = {f["id"]: f for f in items}
            assert by_id[moved_id]["risk"] == moved_risk  # corrected in place, same row
            assert kept_rows <= set(by_id)  # unchanged findings keep their rows
            back = [f for f in items if f["vuln_id"] == removed_vuln]
            assert back and all(f["exception"] and f["exception"]["kind"] == "risk_accepted" for f in back)
