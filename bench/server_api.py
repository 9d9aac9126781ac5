"""Central server API speed (issue #11, "Performance"): with 1,000 images, 300,000 findings and 100,000 alerts
in the store, the p95 of every list endpoint through a real ``containerguard server`` (uvicorn) process over
HTTP on loopback (target <= 150 ms), then alert ingest through the real agent report endpoint
(``POST /api/v1/agent/report``) in batches (target >= 5,000 alerts/s).

The store is the one bench/webui_pages.py uses (bench/_server_seed.py: seeded through the real migrations,
the SQLite copy cached under the test cache). Times are the client's wall time per request (connection kept
alive), so they include JSON encoding and the loopback round trip.

    .venv/bin/python bench/server_api.py                      # SQLite (cached seed), full sizes
    .venv/bin/python bench/server_api.py --db postgresql      # a fresh PostgreSQL database, seeded, dropped after
    .venv/bin/python bench/server_api.py --runs 10 --batches 10   # a quick run (stated sizes)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from bench._server_seed import ADMIN, N_ALERTS, seed, seeded_sqlite

#: every list endpoint of /api/v1, with the filters a user would use on a big store
LISTS = ["/images", "/images?sort=critical&offset=900", "/images?name=team-3",
         "/findings", "/findings?min_severity=critical", "/findings?kev=true", "/findings?vuln_id=CVE-2021-4242",
         "/findings?offset=5000", "/findings?cursor={deep}",
         f"/images/sha256:{7:064x}/findings", f"/images/sha256:{7:064x}/findings?min_severity=high",
         "/alerts", "/alerts?min_priority=critical", "/alerts?host=node-042", "/alerts?rule=Write%20below%20etc",
         f"/alerts?before_id={N_ALERTS // 2}",
         "/containers", "/containers?running=false", "/containers?host=node-017", f"/containers?image_digest=sha256:{7:064x}",
         "/hosts", "/events", "/audit", "/audit?action=exception.create", "/exceptions", "/exceptions?all=true",
         "/tokens", "/jobs", "/registries"]


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 2 else xs[0]


def start_server(db: str, work: Path) -> object:
    from tests.fixtures import registry as reg
    from tests.fixtures import server as srv

    port = reg.free_port()
    proc = srv.ServerProcess(["server", "--listen", f"127.0.0.1:{port}", "--db", db, "--data-dir", str(work)],
                             {**os.environ, "PYTHONUNBUFFERED": "1", "CONTAINERGUARD_BOOTSTRAP_TOKEN": ADMIN},
                             port, work / "server.log")
    proc.start()
    proc.wait_ready()
    return proc


def deep_cursor(c: httpx.Client, depth: int = 5000) -> str:
    """The ``next`` cursor after the first ``depth`` findings (the keyset twin of ``offset=depth``)."""
    cursor = ""
    for _ in range(depth // 1000):
        r = c.get("/api/v1/findings", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text[:300]
        cursor = r.json()["next"]
    return cursor


def lists(c: httpx.Client, runs: int) -> bool:
    ok = True
    worst = 0.0
    deep = deep_cursor(c)
    for path in (p.replace("{deep}", deep) for p in LISTS):
        for _ in range(2):
            c.get("/api/v1" + path)
        ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = c.get("/api/v1" + path)
            ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        body = r.json()
        n = len(body["items"]) if isinstance(body, dict) and "items" in body else len(body)
        worst = max(worst, p95(ms))
        ok &= target_line(f"GET {path[:44]}", p95(ms), 150, "ms p95",
                          note=f"median {statistics.median(ms):.0f} ms, {n} rows, {len(r.content) // 1024} KiB")
    ok &= target_line("worst list endpoint", worst, 150, "ms p95")
    return ok


def ingest(url: str, admin: httpx.Client, batches: int, batch_size: int, agents: int) -> bool:
    """``agents`` concurrent agents (one token each), each posting ``batches`` batches of ``batch_size`` alerts."""
    tokens = []
    for a in range(agents):
        r = admin.post("/api/v1/tokens", json={"name": f"bench-ingest-{uuid.uuid4().hex[:8]}-{a}", "role": "agent"})
        assert r.status_code == 201, r.text
        tokens.append((r.json()["token"], r.json()["name"]))
    rules = ["Terminal shell in container", "Write below etc", "Read sensitive file untrusted"]
    prios = ["Warning", "Notice", "Error", "Informational"]  # bursts of ordinary alerts; criticals also raise events
    now = dt.datetime.now(dt.UTC).isoformat()

    def body(host: str, b: int) -> dict[str, object]:
        return {"host": host, "batch_id": f"b{b:08d}-{uuid.uuid4().hex[:8]}", "agent_version": "bench",
                "alerts": [{"uid": f"{host[-12:]}-{b}-{i}-{uuid.uuid4().hex[:6]}", "time": now, "rule": rules[i % 3],
                            "priority": prios[i % 4] if i % 50 else "Critical",
                            "output": f"shell spawned (user=root proc.name=bash pid={i})",
                            "container_id": f"{i % 10:064x}", "container_name": f"svc-{i % 10}",
                            "output_fields": {"proc.name": "bash", "proc.pid": i}} for i in range(batch_size)]}

    bodies = [[body(host, b) for b in range(batches)] for _, host in tokens]
    stored = [0] * agents
    errors: list[str] = []

    def run(k: int) -> None:
        with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {tokens[k][0]}"}) as c:
            for bd in bodies[k]:
                r = c.post("/api/v1/agent/report", json=bd)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                stored[k] += r.json()["alerts_stored"]

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    assert not errors, errors[:3]
    total = sum(stored)
    assert total == agents * batches * batch_size, (total, agents * batches * batch_size)
    return target_line(f"alert ingest ({batch_size}/batch)", total / secs, 5000, "alerts/s", at_least=True, fmt="7.0f",
                       note=f"{total:,} alerts in {agents * batches} batches from {agents} agents in {secs:.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="'postgresql' (a fresh database, seeded, dropped after) or a database URL already "
                                 "seeded by bench/_server_seed.py; default: the cached SQLite seed (copied)")
    ap.add_argument("--runs", type=int, default=40, help="requests per list endpoint (default 40)")
    ap.add_argument("--batches", type=int, default=25, help="ingest batches per agent (default 25)")
    ap.add_argument("--batch-size", type=int, default=1000, help="alerts per batch (default 1000)")
    ap.add_argument("--agents", type=int, default=4, help="concurrent agents during ingest (default 4)")
    args = ap.parse_args()

    from tests.fixtures import server as srv

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"server-api-bench-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    drop = None
    if args.db == "postgresql":
        db = drop = srv.postgres_url("cg_bench")
        t0 = time.perf_counter()
        seed(db)
        print(f"seeded PostgreSQL in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elif args.db:
        db = args.db
    else:
        db = str(work / "db.sqlite")
        shutil.copy(seeded_sqlite(), db)
    print(f"store: {'PostgreSQL' if db.startswith('postgresql') else 'SQLite'}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs (shared machine: the tail shows it)")
    proc = start_server(db, work)
    ok = True
    try:
        url = proc.url  # type: ignore[attr-defined]
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            ok &= lists(admin, args.runs)
            ok &= ingest(url, admin, args.batches, args.batch_size, args.agents)
    finally:
        proc.stop()  # type: ignore[attr-defined]
        if drop:
            srv.drop_postgres(drop)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
