"""The seeded central-server store every server bench uses (console pages, API lists, ingest, rescans,
scaling): 1,000 images with 300 findings each (300,000), each image with a stored inventory (a real
``containerguard scan`` document's SBOM, so a rescan has something to match), 100 hosts with 10 containers
each, 100,000 alerts, 200 exceptions and 2,000 audit entries, written through the real migrations with bulk
inserts (deterministic). The SQLite copy is cached under the test cache; a PostgreSQL URL is seeded in place.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

N_IMAGES, PER_IMAGE, N_ALERTS, N_HOSTS = 1000, 300, 100_000, 100
ADMIN = "cg_webui-bench-admin-" + "2" * 24
SEED_VERSION = "v2"  # v2: inventories


def seed(db_url: str) -> None:
    """Migrate and fill the store with realistic rows (bulk inserts; deterministic)."""
    from sqlalchemy import insert
    from tests.fixtures import server as srv

    from containerguard.server.app import prepare
    from containerguard.server.services.images import compress, packages_digest, parse_upload
    from containerguard.server.settings import Settings
    from containerguard.server.store import session_factory, transaction
    from containerguard.server.store.models import (
        Alert,
        AuditEntry,
        Container,
        Finding,
        FindingException,
        Host,
        Image,
        ImageName,
        Inventory,
        Setting,
    )

    os.environ["CONTAINERGUARD_BOOTSTRAP_TOKEN"] = ADMIN
    prepared = prepare(Settings(db=db_url, scheduler=False))
    rnd = random.Random(12)
    now = dt.datetime.now(dt.UTC)
    types = ["deb", "pypi", "npm", "golang", "maven", "apk"]
    with transaction(session_factory(prepared.engine)) as s:
        images, names, findings = [], [], []
        fid = 0
        for i in range(1, N_IMAGES + 1):
            counts = {5: 0, 4: 0, 3: 0, 2: 0, 0: 0}
            kev = 0
            max_risk = 0.0
            for j in range(PER_IMAGE):
                fid += 1
                sev = rnd.choices([5, 4, 3, 2, 0], [4, 20, 40, 25, 11])[0]
                is_kev = rnd.random() < 0.01
                risk = round(sev * 10 + rnd.random() * 30 + (40 if is_kev else 0), 2)
                counts[sev] += 1
                kev += is_kev
                max_risk = max(max_risk, risk)
                t = types[(i + j) % len(types)]
                findings.append(dict(id=fid, image_id=i, fingerprint=f"{i:04d}{j:060d}", kind="vulnerability",
                                     vuln_id=f"CVE-20{rnd.randint(15, 25)}-{rnd.randint(1000, 99999)}",
                                     title=f"advisory title {j} of package {j % 40}", severity=sev,
                                     package_name=f"{t}-package-{j % 120}", package_version=f"1.{j % 9}.{i % 7}",
                                     package_type=t, purl="", path="", fixed_version=f"1.{j % 9 + 1}.0" if j % 2 else "",
                                     status="fixed" if j % 2 else "affected", cvss_score=float(sev * 2),
                                     epss=rnd.random() / 10, kev=is_kev, risk=risk,
                                     first_seen=now - dt.timedelta(days=rnd.randint(0, 40))))
            images.append(dict(id=i, digest=f"sha256:{i:064x}", name=f"registry.local/team-{i % 17}/app-{i}:{i % 5}",
                               os_family="debian", os_version="12", architecture="amd64", source="registry",
                               first_seen=now - dt.timedelta(days=40), last_seen=now - dt.timedelta(hours=i % 48),
                               scanned_at=now - dt.timedelta(hours=i % 48), package_count=180 + i % 50,
                               critical=counts[5], high=counts[4], medium=counts[3], low=counts[2], other=counts[0],
                               kev=kev, max_risk=max_risk))
            names.append(dict(image_id=i, repository=f"registry.local/team-{i % 17}/app-{i}", tag=str(i % 5),
                              manifest_digest=""))
            if len(findings) >= 50_000:
                s.execute(insert(Image), images) if images else None
                images = []
                s.execute(insert(Finding), findings)
                findings = []
        if images:
            s.execute(insert(Image), images)
        if findings:
            s.execute(insert(Finding), findings)
        s.execute(insert(ImageName), names)
        invs = []
        for d in srv.scan_documents(6):
            invs.append((compress(d), packages_digest(parse_upload(d).inventory)))
        s.execute(insert(Inventory), [dict(image_id=i, sha256=invs[i % len(invs)][1], document=invs[i % len(invs)][0],
                                           verified=True, matched_db="bench-build-1") for i in range(1, N_IMAGES + 1)])
        s.execute(insert(Host), [dict(id=h, name=f"node-{h:03d}", agent_version="0.1.0",
                                      last_seen=now - dt.timedelta(seconds=h * 7)) for h in range(1, N_HOSTS + 1)])
        s.execute(insert(Container), [dict(host_id=h, container_id=f"{h:06d}{c:058d}", name=f"svc-{c}",
                                           image=f"registry.local/team-{(h * 10 + c) % 17}/app-{(h * 10 + c) % N_IMAGES + 1}",
                                           image_digest=f"sha256:{(h * 10 + c) % N_IMAGES + 1:064x}",
                                           privileged=c == 0, capabilities=[], mounts=[], ports=[8080] if c % 3 == 0 else [],
                                           network_mode="host" if c == 1 else "bridge")
                                      for h in range(1, N_HOSTS + 1) for c in range(10)])
        rules = ["Terminal shell in container", "Write below etc", "Read sensitive file untrusted",
                 "Outbound connection to C2 server", "Launch privileged container", "Drift: new executable"]
        batch = []
        for a in range(1, N_ALERTS + 1):
            h = a % N_HOSTS + 1
            batch.append(dict(id=a, host_id=h, uid=f"u{a}", time=now - dt.timedelta(seconds=(N_ALERTS - a) * 26),
                              rule=rules[a % len(rules)], rule_id="", priority=rnd.choice([2, 3, 4, 5, 6]),
                              source="syscall", output=f"shell spawned (user=root proc.name=bash pid={a})",
                              container_id=f"{h:06d}{a % 10:058d}", container_name=f"svc-{a % 10}", image="",
                              fields={"proc.name": "bash", "proc.pname": "node", "proc.pid": a, "proc.aname[2]": "containerd-shim"},
                              tags=[]))
            if len(batch) == 20_000:
                s.execute(insert(Alert), batch)
                batch = []
        s.execute(insert(FindingException), [dict(vuln_id=f"CVE-2020-{1000 + e}", scope="global", kind="risk_accepted",
                                                  reason="bench", author="bench", expires_at=None) for e in range(200)])
        s.execute(insert(AuditEntry), [dict(actor="bench (admin)", action="exception.create", object_type="exception",
                                            object_id=str(e), remote_addr="127.0.0.1", detail={"reason": "bench"})
                                       for e in range(2000)])
        s.merge(Setting(key="vulndb_build", value="bench-build-1"))
        s.merge(Setting(key="vulndb_build_at", value=(now - dt.timedelta(days=2)).isoformat()))
    if prepared.engine.dialect.name == "postgresql":
        # planner statistics and vacuumed tables, as autovacuum leaves them on a server that has been running
        from sqlalchemy import text

        with prepared.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # rows went in with explicit ids: move each id sequence past them, or the next insert through the
            # API collides with a seeded primary key
            for table in ("images", "findings", "alerts", "hosts", "containers", "exceptions", "audit_log"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
            # VACUUM too: a server that has been running has had its tables vacuumed (hint bits set, visibility
            # map written); measuring right after a bulk load measures autovacuum's first pass instead
            conn.execute(text("VACUUM (ANALYZE)"))
    prepared.engine.dispose()


def seeded_sqlite() -> Path:
    from tests.fixtures.env import CACHE, machine_lock

    path = CACHE / "webui-bench" / f"{SEED_VERSION}.sqlite"
    with machine_lock("webui-bench"):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.unlink(missing_ok=True)
            t0 = time.perf_counter()
            seed(str(tmp))
            print(f"seeded {tmp.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            tmp.rename(path)
    return path
