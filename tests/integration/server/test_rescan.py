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
