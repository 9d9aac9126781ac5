"""Jobs that share a lock never run at once on the in-process queue (two threads on PostgreSQL), as on
procrastinate's workers: a scan of one digest queued under two repositories pulls it once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from containerguard.server import jobs


@pytest.fixture
def probe() -> Iterator[list[tuple[str, float, float]]]:
    runs: list[tuple[str, float, float]] = []
    guard = threading.Lock()

    def sleeper(ctx: jobs.JobContext, name: str) -> dict[str, Any]:
        t0 = time.monotonic()
        time.sleep(0.4)
        with guard:
            runs.append((name, t0, time.monotonic()))
        return {"name": name}

    jobs.JOBS["test_sleeper"] = sleeper
    yield runs
    del jobs.JOBS["test_sleeper"]


def test_jobs_with_one_lock_run_one_after_the_other(api: Any, probe: list[tuple[str, float, float]]) -> None:
    queue = api.app.state.cg.jobs
    queue.defer("test_sleeper", name="a", _lock="scan-sha256:1")
    queue.defer("test_sleeper", name="b", _lock="scan-sha256:1")
    queue.defer("test_sleeper", name="c", _lock="scan-sha256:2")
    api.wait_jobs(30)
    runs = {name: (t0, t1) for name, t0, t1 in probe}
    assert set(runs) == {"a", "b", "c"}
    (a0, a1), (b0, b1) = runs["a"], runs["b"]
    assert a1 <= b0 or b1 <= a0, runs  # never at once
    if api.settings.db_url.startswith("postgresql"):  # two threads: a job of another lock runs beside them
        c0, c1 = runs["c"]
        assert any(c0 < y1 and x0 < c1 for x0, y1 in (runs["a"], runs["b"])), runs
    assert not queue._running  # the run locks are dropped once their jobs are done
