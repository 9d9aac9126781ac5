"""Concurrent writes of one image, on both backends. Uploads of the same new digest at once: one creates the
image, the others find it (none fails on the unique digest). A rescan chunk is one consistent unit of work: an upload that replaces an image's inventory
while the rescan is between reading what is stored and writing its matches is not lost. The upload (a
registry pull, which may replace a CI upload's claimed inventory) is started from inside the rescan's write,
at the moment it reads the image's stored findings; whichever commits first, the image ends with the
upload's inventory and the findings of that inventory, and counts that agree with them."""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event, select

from containerguard.server.services import images
from containerguard.server.services.audit import SYSTEM
from containerguard.server.store import transaction
from containerguard.server.store.models import Finding, Image
from containerguard.server.store.models import Inventory as InventoryRow


def test_an_upload_during_a_rescan_chunk_is_not_lost(api, docs):
    ci = api.token("ci")
    assert api.post("/scans", ci, content=docs[0]).status_code == 201
    digest = json.loads(docs[0])["image"]["id"]
    first = {(f["kind"], f["id"]) for f in json.loads(docs[0])["findings"]}
    pulled = dataclasses.replace(images.parse_upload(docs[1]), digest=digest, names=())
    expected = {(str(f.kind), f.id) for f in pulled.findings}
    assert expected and expected != first, "the two documents must differ in findings"

    sessions = api.app.state.cg.sessions
    engine = sessions.kw["bind"]
    uploaded = threading.Event()
    state: dict[str, object] = {}

    def upload() -> None:
        try:
            with transaction(sessions) as s:
                images.ingest(s, SYSTEM, pulled, source="registry", verified=True)
        except Exception as exc:  # reported below
            state["error"] = exc
        uploaded.set()

    def interleave(conn, cursor, statement, params, context, executemany) -> None:
        # the rescan's read of the stored findings, inside its write: start the upload there and give it time
        if "findings.fingerprint" in statement and statement.lstrip().upper().startswith("SELECT") \
                and "thread" not in state and threading.current_thread().name != "cg-upload":
            worker = threading.Thread(target=upload, name="cg-upload")
            state["thread"] = worker
            worker.start()
            state["upload_done_inside_rescan"] = uploaded.wait(3)

    event.listen(engine, "before_cursor_execute", interleave)
    try:
        assert api.post("/rescans", api.token("analyst")).status_code == 202
        api.wait_jobs()
    finally:
        event.remove(engine, "before_cursor_execute", interleave)
    assert "thread" in state, "the rescan never read the stored findings"
    state["thread"].join(60)  # type: ignore[attr-defined]
    assert uploaded.is_set() and "error" not in state, state.get("error")
    # the lock held the upload back until the rescan's chunk committed (without it, the upload committed in
    # between and the rescan then wrote the old inventory's matches over it)
    assert state["upload_done_inside_rescan"] is False

    with transaction(sessions) as s:
        img = s.scalars(select(Image).where(Image.digest == digest)).one()
        stored = {(f.kind, f.vuln_id) for f in s.scalars(select(Finding).where(Finding.image_id == img.id))}
        inv = s.scalars(select(InventoryRow).where(InventoryRow.image_id == img.id)).one()
        assert inv.verified and inv.sha256 == images.packages_digest(pulled.inventory)
        counts = (img.critical, img.high, img.medium, img.low)
        sev = [f.severity for f in s.scalars(select(Finding).where(Finding.image_id == img.id))]
    assert stored == expected
    from containerguard.model import Severity

    assert counts == tuple(sev.count(int(x)) for x in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW))
    job = api.get("/jobs?kind=rescan_batch").json()[0]
    assert job["status"] == "done", job


def test_uploads_of_one_new_digest_at_once_all_succeed(api, docs):
    d = json.loads(docs[3])
    d["image"]["repo_tags"] = ["registry.test/parallel-ci:1"]
    body = json.dumps(d)
    ci = api.token("ci")
    start = threading.Barrier(6)

    def one(_: int) -> tuple[int, bool]:
        start.wait()
        r = api.post("/scans", ci, content=body)
        return r.status_code, bool(r.status_code == 201 and r.json()["created"])

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    assert [code for code, _ in results] == [201] * 6, results
    assert sum(created for _, created in results) == 1
    listed = api.get("/images", params={"name": "parallel-ci"}).json()
    assert listed["total"] == 1
    detail = api.get(f"/images/{d['image']['id']}/findings?limit=500").json()["items"]
    assert sorted((f["kind"], f["vuln_id"]) for f in detail) == sorted((f["kind"], f["id"]) for f in d["findings"])
