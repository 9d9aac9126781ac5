"""Central server: list endpoints' p95 with 1,000 images / 300,000 findings / 100,000 alerts, alert ingest
rate in batches, and a rescan of 1,000 stored inventories -- on SQLite and on PostgreSQL.

    .venv/bin/python bench/server_store.py [--db sqlite|postgresql|both] [--scale 1.0] [--requests 40]

Data is bulk-loaded through SQLAlchemy Core (what is measured is the reading, not the loading); requests go
through the real ASGI stack (FastAPI TestClient: routing, auth, validation, serialisation; no socket).
The rescan runs `rescans.rescan_images` over every stored inventory in one process (one worker's share;
the issue's target is for two workers). PostgreSQL needs the machine's cluster (scripts/services).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line


def load(engine, scale: float, doc: bytes) -> dict:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from containerguard.server.services.images import compress, packages_digest, parse_upload
    from containerguard.server.store.models import (
        Alert,
        Container,
        Finding,
        Host,
        Image,
        ImageName,
        Inventory,
    )

    n_images, per_image, n_hosts, n_alerts = int(1000 * scale), 300, max(1, int(100 * scale)), int(100_000 * scale)
    now = dt.datetime.now(dt.UTC)
    inv_doc = compress(doc)
    pd = packages_digest(parse_upload(doc).inventory)
    with engine.begin() as c:
        c.execute(insert(Image), [{"digest": f"sha256:{i:064x}", "name": f"registry.example/team{i % 20}/app{i}:1.{i % 7}",
                                   "os_family": "debian", "os_version": "12", "architecture": "amd64", "source": "ci",
                                   "first_seen": now, "last_seen": now, "package_count": 150, "critical": i % 5,
                                   "high": i % 11, "medium": 30, "low": 40, "other": 5, "kev": i % 3,
                                   "max_risk": (i * 37) % 100} for i in range(n_images)])
        c.execute(insert(ImageName), [{"image_id": i + 1, "repository": f"registry.example/team{i % 20}/app{i}",
                                       "tag": f"1.{i % 7}", "manifest_digest": f"sha256:{i + 10**6:064x}",
                                       "first_seen": now, "last_seen": now} for i in range(n_images)])
        c.execute(insert(Inventory), [{"image_id": i + 1, "sha256": pd, "document": inv_doc, "verified": False,
                                       "created_at": now, "matched_db": ""} for i in range(n_images)])
        rows = []
        for i in range(n_images):
            for j in range(per_image):
                rows.append({"image_id": i + 1, "fingerprint": f"{i:08x}{j:056x}", "kind": "vulnerability",
                             "vuln_id": f"CVE-2024-{(i * 7 + j) % 20000:05d}", "title": "a vulnerability",
                             "severity": (i + j) % 6, "package_name": f"pkg{j}", "package_version": "1.0",
                             "package_type": "deb", "purl": f"pkg:deb/debian/pkg{j}@1.0", "path": "",
                             "fixed_version": "1.1", "status": "fixed", "cvss_score": 7.5, "epss": 0.01,
                             "kev": j % 97 == 0, "risk": ((i * 13 + j * 7) % 1000) / 10, "first_seen": now})
            if len(rows) >= 20_000:
                c.execute(insert(Finding), rows)
                rows = []
        if rows:
            c.execute(insert(Finding), rows)
        c.execute(insert(Host), [{"name": f"node-{h}", "first_seen": now, "last_seen": now, "agent_version": "x"}
                                 for h in range(n_hosts)])
        c.execute(insert(Container), [{"host_id": h + 1, "container_id": f"{h:032x}{k:032x}", "name": f"c{k}",
                                       "image": "app:1", "image_digest": f"sha256:{(h * 10 + k) % n_images:064x}",
                                       "privileged": k == 0, "capabilities": [], "mounts": [], "ports": [],
                                       "network_mode": "bridge", "running": True, "first_seen": now, "last_seen": now}
                                      for h in range(n_hosts) for k in range(10)])
        rows = []
        for a in range(n_alerts):
            rows.append({"host_id": a % n_hosts + 1, "uid": f"{a:032x}", "time": now, "rule": f"rule {a % 40}",
                         "rule_id": f"CG-R-{a % 40}", "priority": a % 8, "source": "syscall", "output": "shell in container",
                         "container_id": "abc", "container_name": "web", "image": "app:1", "fields": {"proc.name": "sh"},
                         "tags": ["shell"], "received_at": now})
            if len(rows) >= 20_000:
                c.execute(insert(Alert), rows)
                rows = []
        if rows:
            c.execute(insert(Alert), rows)
    return {"images": n_images, "findings": n_images * per_image, "alerts": n_alerts}


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18] if len(xs) >= 20 else max(xs)


def run(kind: str, url: str, args: argparse.Namespace, doc: bytes, tmp: Path) -> None:
    from fastapi.testclient import TestClient

    from containerguard.server.app import create_app, prepare
    from containerguard.server.jobs import InProcessQueue, JobContext
    from containerguard.server.services import rescans
    from containerguard.server.settings import Settings

    settings = Settings(db=url, data_dir=tmp, vulndb=args.vulndb, inprocess_jobs=True, scheduler=False)
    prepared = prepare(settings)
    t0 = time.perf_counter()
    counts = load(prepared.engine, args.scale, doc)
    print(f"[{kind}] loaded {counts} in {time.perf_counter() - t0:.1f} s")
    app = create_app(settings, engine=prepared.engine)
    h = {"Authorization": f"Bearer {prepared.admin_token}"}
    with TestClient(app) as c:
        tok = c.post("/api/v1/tokens", headers=h, json={"name": "bench-agent", "role": "agent", "host": "node-bench"}).json()["token"]
        paths = ["/api/v1/images?limit=50", "/api/v1/images?limit=50&sort=last_seen&offset=500",
                 "/api/v1/images?limit=50&name=team7", f"/api/v1/images/{max(1, counts['images'] // 2)}/findings?limit=100",
                 "/api/v1/findings?limit=100", "/api/v1/findings?limit=100&min_severity=CRITICAL&kev=true",
                 "/api/v1/alerts?limit=100", "/api/v1/alerts?limit=100&host=node-3&min_priority=ERROR",
                 "/api/v1/hosts?limit=100", "/api/v1/containers?limit=100", "/api/v1/events?limit=100"]
        for p in paths:
            c.get(p, headers=h)  # warm
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.get(p, headers=h)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (p, r.status_code, r.text[:200])
            target_line(f"[{kind}] GET {p[7:48]}", p95(times), 150, "ms p95")
        # alert ingest: batches of 1,000 from one agent
        batches = 20
        alerts = [{"uid": uuid.uuid4().hex, "time": "2026-12-01T10:00:00Z", "rule": "Shell in container",
                   "priority": "Warning", "output": "shell", "container_id": "abc", "container_name": "web",
                   "image": "app:1", "output_fields": {"proc.name": "sh"}, "tags": ["shell"]} for _ in range(batches * 1000)]
        t = time.perf_counter()
        for b in range(batches):
            body = {"host": "node-bench", "batch_id": uuid.uuid4().hex, "alerts": alerts[b * 1000:(b + 1) * 1000]}
            r = c.post("/api/v1/agent/report", headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"},
                       content=json.dumps(body))
            assert r.status_code == 200 and r.json()["alerts_stored"] == 1000, r.text[:300]
        rate = batches * 1000 / (time.perf_counter() - t)
        target_line(f"[{kind}] alert ingest (1k batches)", rate, 5000, "alerts/s", at_least=True, fmt="7.0f")
    if args.rescan:
        ctx = JobContext(settings, app.state.cg.sessions, InProcessQueue(lambda q: None, 1))  # type: ignore[arg-type, return-value]
        ids = list(range(1, counts["images"] + 1))
        t = time.perf_counter()
        out = rescans.rescan_images(ctx, ids)
        secs = time.perf_counter() - t
        target_line(f"[{kind}] rescan {out['images']} inventories", secs, 30, "s", fmt="7.1f",
                    note="one process (target: two workers)")
    prepared.engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--no-rescan", dest="rescan", action="store_false")
    args = ap.parse_args()
    from tests.fixtures import server as srv

    args.vulndb = str(srv.vulndb())
    doc = srv.scan_documents(6)[0]
    with tempfile.TemporaryDirectory() as d:
        if args.db in ("sqlite", "both"):
            run("sqlite", str(Path(d) / "bench.sqlite"), args, doc, Path(d))
        if args.db in ("postgresql", "both"):
            url = srv.postgres_url("cg_bench")
            try:
                run("postgresql", url, args, doc, Path(d))
            finally:
                srv.drop_postgres(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
