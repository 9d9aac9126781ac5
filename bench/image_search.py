"""Image name search (issue #12, images list; issue #11, ``GET /api/v1/images?name=``): the time of the
search itself on the seeded 1,000-image store (bench/_server_seed.py), through the service functions the API
and the console call, on a read session as the server uses. Terms: a prefix of many names, a substring in
the middle of names, a repository with few matches, a short term, a term that matches nothing, a term with
LIKE metacharacters. Each query's total count and first page are what a request costs.

    .venv/bin/python bench/image_search.py                   # SQLite (the cached seeded store, copied)
    .venv/bin/python bench/image_search.py --db postgresql   # a fresh PostgreSQL database, seeded, dropped after
    .venv/bin/python bench/image_search.py --extra 99000     # with 99,000 more images (how it scales)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from bench._server_seed import seed, seeded_sqlite

TERMS = ["registry.local/team-3", "app-42", "team-16/app-9", "7", "no-such-image-anywhere", "team_3%"]
TARGET_MS = 20.0  # a search is one part of a page whose whole server time must stay under 150 ms


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 2 else xs[0]


def add_images(url: str, n: int) -> None:
    from sqlalchemy import func, insert, select

    from containerguard.server.store import make_engine, session_factory, transaction
    from containerguard.server.store.models import Image, ImageName

    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        start = int(s.scalar(select(func.max(Image.id))) or 0) + 1
        for lo in range(start, start + n, 10_000):
            ids = range(lo, min(lo + 10_000, start + n))
            s.execute(insert(Image), [dict(id=i, digest=f"sha256:{i:064x}", name=f"mirror.example/org-{i % 211}/svc-{i}:v{i % 9}",
                                           os_family="alpine", os_version="3.19", architecture="arm64", source="ci")
                                      for i in ids])
            s.execute(insert(ImageName), [dict(image_id=i, repository=f"mirror.example/org-{i % 211}/svc-{i}",
                                               tag=f"v{i % 9}", manifest_digest="") for i in ids])
    if engine.dialect.name == "postgresql":  # statistics as autovacuum leaves them on a running server
        from sqlalchemy import text

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) images, image_names"))
    engine.dispose()


def measure(url: str, runs: int) -> bool:
    from containerguard.server.services import images
    from containerguard.server.store import make_engine, read_session_factory
    from containerguard.server.webui import views

    engine = make_engine(url)
    factory = read_session_factory(engine)
    ok = True
    for label, call in (("api", lambda s, t: images.list_images(s, name=t, limit=50)),
                        ("console", lambda s, t: views.images(s, q=t))):
        for term in TERMS:
            times = []
            for _ in range(runs):
                with factory() as s:
                    t0 = time.perf_counter()
                    out = call(s, term)
                    times.append((time.perf_counter() - t0) * 1000)
            total = out[1] if isinstance(out, tuple) else out.total
            ok &= target_line(f"{label} {term!r} ({total} found)"[:32], p95(times), TARGET_MS, "ms p95",
                              note=f"median {statistics.median(times):.2f} ms")
    engine.dispose()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--extra", type=int, default=0, help="images added to the seeded 1,000")
    args = ap.parse_args()
    from containerguard.server.store import make_engine, migrate

    if args.db == "sqlite":
        work = Path(tempfile.mkdtemp(prefix="cg-search-"))
        try:
            db = work / "store.sqlite"
            shutil.copy(seeded_sqlite(), db)
            engine = make_engine(str(db))
            migrate(engine)  # a cached seed from before the newest migration
            engine.dispose()
            if args.extra:
                add_images(str(db), args.extra)
            return 0 if measure(str(db), args.runs) else 1
        finally:
            shutil.rmtree(work, ignore_errors=True)
    from tests.fixtures import server as srv

    url = srv.postgres_url("cg_search")
    try:
        seed(url)
        if args.extra:
            add_images(url, args.extra)
        return 0 if measure(url, args.runs) else 1
    finally:
        srv.drop_postgres(url)


if __name__ == "__main__":
    raise SystemExit(main())
