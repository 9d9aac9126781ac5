"""Rescan of every stored inventory (issue #11, "Performance"; target: 1,000 inventories in <= 30 s with two
workers on PostgreSQL). The inventories go in through the real upload endpoint (``POST /api/v1/scans``): real
``containerguard scan`` documents of small images holding vulnerable Python packages (tests/fixtures/server.py,
cached), each stored under its own digest and name. Then ``POST /api/v1/rescans`` (what the server runs after
a database update) and the clock runs until every ``rescan_batch`` job is done, read from ``GET /api/v1/jobs``.

What runs the jobs is what the server offers: on SQLite the server process itself (``--jobs auto``); on
PostgreSQL ``--workers N`` separate ``containerguard worker`` processes (default 2). The database is the same
build as at upload time, so the figure is the cost of re-matching, reading and rewriting every image's
findings; the documents hold few packages each (stated in the output), fewer than a real image's hundreds.

    .venv/bin/python bench/server_rescan.py                       # SQLite, 1,000 inventories
    .venv/bin/python bench/server_rescan.py --db postgresql --workers 2
    .venv/bin/python bench/server_rescan.py --images 200          # quick (stated size)
    .venv/bin/python bench/server_rescan.py --store seeded [--db postgresql]

``--store seeded`` rescans the store every server bench shares (bench/_server_seed.py: 1,000 images with 300
findings each and a real inventory each) instead of uploading: every image's 300 seeded findings are replaced
by what its inventory matches, the heavy end of a rescan (most rows change). Every run then rescans a second
time with the same database: nothing changes, the light end (a real database update changes a few findings).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from bench._server_seed import ADMIN, N_IMAGES, seed, seeded_sqlite


def documents(n: int) -> list[bytes]:
    from tests.fixtures import server as srv

    base = [json.loads(d) for d in srv.scan_documents(6)]
    out = []
    for i in range(n):
        doc = json.loads(json.dumps(base[i % len(base)]))
        doc["image"]["id"] = f"sha256:{i + 1:064x}"
        doc["image"]["repo_tags"] = [f"bench.local/rescan/app-{i}:1"]
        doc["image"]["repo_digests"] = []
        out.append(json.dumps(doc).encode())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="'postgresql' for a fresh PostgreSQL database (dropped after); default SQLite")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2, help="worker processes on PostgreSQL (default 2)")
    ap.add_argument("--upload-threads", type=int, default=0,
                    help="concurrent uploads (default 4 on SQLite, 1 on PostgreSQL, where 4 at once answered 500 once under heavy load)")
    ap.add_argument("--batch", type=int, default=25, help="inventories per rescan job (the server's default 25)")
    ap.add_argument("--store", choices=["uploads", "seeded"], default="uploads",
                    help="uploads: --images documents through POST /scans (default); seeded: the shared bench store")
    args = ap.parse_args()

    from tests.fixtures import server as srv

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"server-rescan-bench-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pg = args.db == "postgresql"
    db = srv.postgres_url("cg_bench") if pg else str(work / "db.sqlite")
    vdb = str(srv.vulndb())
    seeded = args.store == "seeded"
    if seeded:
        args.images = N_IMAGES
        if pg:
            seed(db)
        else:
            shutil.copy(seeded_sqlite(), db)
    docs = [] if seeded else documents(args.images)
    npk = len(json.loads(docs[0] if docs else srv.scan_documents(6)[0]).get("packages", []))
    env = {"CONTAINERGUARD_BOOTSTRAP_TOKEN": ADMIN}
    procs = [srv.ServerProcess.server(work, "--db", db, "--data-dir", str(work), "--vulndb", vdb, env=env)]
    ok = True
    try:
        url = procs[0].url
        if pg:
            procs += [srv.ServerProcess.worker(work, "--db", db, "--vulndb", vdb, name=f"w{k}", env=env)
                      for k in range(args.workers)]
        with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
            def up(d: bytes) -> None:
                r = c.post("/api/v1/scans", content=d, headers={"Content-Type": "application/json"})
                assert r.status_code == 201, r.text[:300]

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.upload_threads or (1 if pg else 4)) as ex:
                list(ex.map(up, docs))
            up_s = time.perf_counter() - t0
            how = ("seeded store, 300 findings per image replaced" if seeded else
                   f"uploaded in {up_s:.1f} s ({args.images / up_s:.0f}/s)")
            print(f"{'PostgreSQL' if pg else 'SQLite'}: {args.images} inventories ({npk} packages each), {how}; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            # let jobs queued by the uploads (server-side matching of bare SBOMs) drain first
            deadline = time.time() + 300
            while time.time() < deadline and any(j["status"] in ("queued", "running")
                                                 for j in c.get("/api/v1/jobs", params={"limit": 1000}).json()):
                time.sleep(0.5)
            expected = (args.images + args.batch - 1) // args.batch
            who = f"{args.workers} worker processes" if pg else "in the server process"

            def rescan(rounds_before: int) -> tuple[float, int]:
                """POST /rescans, then wait until this round's rescan_batch jobs are done: (seconds, jobs done)."""
                t0 = time.perf_counter()
                r = c.post("/api/v1/rescans", params={"batch": args.batch})
                assert r.status_code == 202, r.text
                done = 0
                while time.perf_counter() - t0 < 900:
                    jobs = c.get("/api/v1/jobs", params={"kind": "rescan_batch", "limit": 1000}).json()
                    failed = [j for j in jobs if j["status"] == "failed"]
                    assert not failed, failed[0]
                    done = sum(j["status"] == "done" for j in jobs) - rounds_before * expected
                    if done >= expected:
                        break
                    time.sleep(0.2)
                return time.perf_counter() - t0, done

            secs, done = rescan(0)
            ok &= done >= expected
            ok &= target_line(f"rescan of {args.images} inventories", secs, 30, "s", fmt="7.1f",
                              note=f"{done}/{expected} jobs of {args.batch}, {who}; "
                                   f"{secs / args.images * 1000:.1f} ms per inventory")
            # the same database again: nothing changes, which is close to what a real database update brings
            # (a few advisories new or amended); only the difference is written
            secs, done = rescan(1)
            ok &= done >= expected
            ok &= target_line("  again, nothing changed", secs, 30, "s", fmt="7.1f",
                              note=f"{done}/{expected} jobs; {secs / args.images * 1000:.1f} ms per inventory")
    finally:
        for p in procs:
            p.stop()
        if pg:
            srv.drop_postgres(db)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
