"""PostgreSQL at scale: two server processes and two `containerguard worker` processes share one database.
Jobs (procrastinate) run exactly once; a worker killed mid-job leaves its job to the other, which retries it
once the dead worker's heartbeat is older than --stalled-after."""

from __future__ import annotations

import json
import time

import httpx
import psycopg
import pytest
from tests.fixtures import server as srv

N_IMAGES = 120




@pytest.fixture
def pg():
    if not srv.postgres_available():
        pytest.skip("PostgreSQL is not running: scripts/services starts it (pg_ctlcluster 15 main start)")
    url = srv.postgres_url()
    yield url
    srv.drop_postgres(url)


def _load(url: str, token: str, docs: list[bytes]) -> None:
    """N_IMAGES inventories: the fixture documents under distinct (claimed) digests."""
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60) as c:
        for i in range(N_IMAGES):
            doc = json.loads(docs[i % len(docs)])
            doc["image"]["id"] = f"sha256:{i:064x}"
            r = c.post(f"{url}/api/v1/scans", headers=h, content=json.dumps(doc))
            assert r.status_code == 201, r.text


def test_two_servers_two_workers_jobs_once_and_a_killed_workers_job_retried(tmp_path, pg):
    common = ("--db", pg, "--vulndb", str(srv.vulndb()))
    a = srv.ServerProcess.server(tmp_path, *common)
    b = srv.ServerProcess.server(tmp_path, *common)
    workers: list[srv.ServerProcess] = []
    try:
        admin = a.first_line().rsplit(" ", 1)[1].strip()
        h = {"Authorization": f"Bearer {admin}"}
        assert httpx.get(f"{b.url}/api/v1/tokens", headers=h).status_code == 200  # one database, one admin
        assert len(httpx.get(f"{b.url}/api/v1/tokens", headers=h).json()) == 1
        _load(a.url, admin, srv.scan_documents(6))
        assert httpx.get(f"{b.url}/api/v1/images", headers=h).json()["total"] == N_IMAGES

        # 1. exactly once: 24 batch jobs deferred through server B, two workers
        workers = [srv.ServerProcess.worker(tmp_path, *common, "--stalled-after", "4", name=f"w{i}") for i in (1, 2)]
        assert httpx.post(f"{b.url}/api/v1/rescans?batch=5", headers=h).status_code == 202
        done = srv.wait_for(lambda: (lambda js: js if len(js) >= N_IMAGES // 5 else None)(
            [j for j in httpx.get(f"{a.url}/api/v1/jobs?kind=rescan_batch&limit=1000", headers=h).json()
             if j["status"] == "done"]), 240)
        assert done and len(done) == N_IMAGES // 5, [w.log_text()[-1500:] for w in workers]
        time.sleep(2)
        runs = httpx.get(f"{a.url}/api/v1/jobs?kind=rescan_batch&limit=1000", headers=h).json()
        keys = [j["key"] for j in runs]
        assert len(keys) == len(set(keys)) == N_IMAGES // 5  # no batch ran twice
        assert sum(j["result"]["images"] for j in runs) == N_IMAGES
        assert {j["worker"] for j in runs} == {"w1", "w2"}  # both took work

        # 2. a worker killed mid-job: its job is retried by the other. The test holds a lock on the inventories
        # table so the job is still running when it is killed (a rescan of 120 images takes well under a second)
        workers[1].stop()
        blocker = psycopg.connect(pg)
        try:
            blocker.execute("LOCK TABLE inventories, images, findings IN EXCLUSIVE MODE")  # reads go on; the job marks what it matched: waits
            assert httpx.post(f"{b.url}/api/v1/rescans?batch=1000", headers=h).status_code == 202
            running = srv.wait_for(lambda: [j for j in httpx.get(f"{a.url}/api/v1/jobs?kind=rescan_batch&limit=5", headers=h).json()
                                     if j["status"] == "running" and "," in j["key"] and j["key"].count(",") > 100], 120)
            assert running and running[0]["worker"] == "w1", running
            time.sleep(1)  # into its write
            workers[0].kill()  # SIGKILL mid-job: no clean shutdown, its heartbeat stops
        finally:
            blocker.rollback()
            blocker.close()
        key = running[0]["key"]
        workers[1] = srv.ServerProcess.worker(tmp_path, *common, "--stalled-after", "4", name="w2")
        retried = srv.wait_for(lambda: [j for j in httpx.get(f"{a.url}/api/v1/jobs?kind=rescan_batch&limit=10", headers=h).json()
                                 if j["key"] == key and j["status"] == "done"], 180)
        assert retried and retried[0]["worker"] == "w2", (workers[0].log_text()[-1500:], workers[1].log_text()[-1500:])
        assert retried[0]["result"]["images"] == N_IMAGES
        assert "retrying it" in workers[1].log_text()
    finally:
        for w in workers:
            w.stop()
        a.stop()
        b.stop()
