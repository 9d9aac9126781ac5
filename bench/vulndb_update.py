"""Benchmark: `db update` from all of ../shared/vulndata served by a local HTTP mirror.

Targets (issue #3): full build <= 60 s, database file <= 400 MB. Also shows the no-change re-run
(every source answers 304) and the record/skip counts.
Run: .venv/bin/python bench/vulndb_update.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from tests.fixtures import vulnmirror

from containerguard import vulndb

BUILD_TARGET_S = 60.0
SIZE_TARGET_MB = 400.0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cg-bench-db-") as d, vulnmirror.serve() as (base, _h):
        db = Path(d) / "vulndb.sqlite"
        t0 = time.perf_counter()
        res = vulndb.update(db, mirror=base)
        build = time.perf_counter() - t0
        size_mb = db.stat().st_size / 1e6
        t1 = time.perf_counter()
        again = vulndb.update(db, mirror=base)
        rerun = time.perf_counter() - t1
        records = sum(s.records for s in res.sources)
        skipped = sum(s.skipped for s in res.sources)
        print(f"sources                 {len(res.sources)}  records {records}  skipped {skipped}")
        ok = target_line("full build", build, BUILD_TARGET_S, "s", fmt="7.1f")
        ok &= target_line("database size", size_mb, SIZE_TARGET_MB, "MB", fmt="7.1f")
        print(f"re-run, nothing changed {rerun:7.2f} s    (rebuilt: {again.changed}; no target)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
