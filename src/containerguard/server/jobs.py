"""Background jobs: rescans, registry pulls and polls, notification deliveries.

The job functions here are plain functions of a :class:`JobContext`; two queues run them:

* :class:`InProcessQueue` -- threads inside the server process. The default with SQLite (one writer at a
  time: one job thread) and what ``--jobs inprocess`` picks with PostgreSQL on a single machine.
* :class:`ProcrastinateQueue` -- `procrastinate <https://procrastinate.readthedocs.io>`_ on the same
  PostgreSQL database. Chosen over Celery/Dramatiq because it needs no broker beyond the database the server
  already has (one thing to operate and back up), jobs are deferred in the same database (a lost message
  cannot happen between commit and enqueue), it locks jobs with ``FOR UPDATE SKIP LOCKED`` (each job runs
  once however many workers poll), and it records worker heartbeats, which is how a job whose worker died
  is found and retried (:func:`retry_stalled`). ``containerguard worker`` runs its workers; servers only
  defer. Its schema is created by our Alembic migration 0002 (PostgreSQL only).

Every run is recorded in ``job_runs`` (kind, key, worker, status, duration) for the API and /metrics.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from containerguard.errors import ContainerGuardError
from containerguard.server.settings import Settings
from containerguard.server.store import transaction
from containerguard.server.store.models import JobRun, utcnow

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def defer(self, kind: str, **kwargs: Any) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def depth(self) -> int: ...


@dataclass
class JobContext:
    settings: Settings
    sessions: sessionmaker[Session]
    queue: JobQueue
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with transaction(self.sessions) as s:
            yield s


JobFn = Callable[..., dict[str, Any]]
JOBS: dict[str, JobFn] = {}


def job(kind: str) -> Callable[[JobFn], JobFn]:
    def deco(fn: JobFn) -> JobFn:
        JOBS[kind] = fn
        return fn

    return deco


def run_job(ctx: JobContext, kind: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run one job, recording it in ``job_runs``. Errors are recorded, then re-raised."""
    fn = JOBS.get(kind)
    if fn is None:
        raise ContainerGuardError(f"unknown job kind {kind!r}")
    key = ",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))[:512]
    with ctx.tx() as s:
        run = JobRun(kind=kind, key=key, status="running", worker=ctx.worker[:128], started_at=utcnow())
        s.add(run)
        s.flush()
        run_id = run.id
    t0 = time.monotonic()
    try:
        result = fn(ctx, **kwargs)
    except Exception as exc:
        with ctx.tx() as s:
            row = s.get(JobRun, run_id)
            if row is not None:
                row.status, row.error, row.finished_at = "failed", str(exc)[:4000], utcnow()
        from containerguard.server import metrics

        metrics.job_finished(kind, "failed", time.monotonic() - t0)
        raise
    with ctx.tx() as s:
        row = s.get(JobRun, run_id)
        if row is not None:
            row.status, row.finished_at, row.result = "done", utcnow(), result
    from containerguard.server import metrics

    metrics.job_finished(kind, "done", time.monotonic() - t0)
    return result


# --------------------------------------------------------------------------- queues


class InProcessQueue:
    """Jobs on threads of this process (``threads`` of them; SQLite: one)."""

    def __init__(self, ctx_factory: Callable[[JobQueue], JobContext], threads: int = 1) -> None:
        self._q: queue.Queue[tuple[str, dict[str, Any], str] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._n = threads
        self.ctx = ctx_factory(self)
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._running: dict[str, list[Any]] = {}  # the jobs' _lock key -> [its run lock, jobs holding or waiting]

    def defer(self, kind: str, **kwargs: Any) -> None:
        if kind not in JOBS:
            raise ContainerGuardError(f"unknown job kind {kind!r}")
        run_lock = str(kwargs.get("_lock") or "")
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        sig = (kind, repr(sorted(kwargs.items())))
        with self._lock:  # the same job already waiting: once is enough
            if sig in self._pending:
                return
            self._pending.add(sig)
        self._q.put((kind, kwargs, run_lock))

    def start(self) -> None:
        for i in range(self._n):
            t = threading.Thread(target=self._loop, name=f"cg-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for _ in self._threads:
            self._q.put(None)
        for t in self._threads:
            t.join(30)
        self._threads.clear()

    def depth(self) -> int:
        return self._q.qsize()

    def join(self, timeout: float = 60.0) -> bool:
        """Wait until the queue is empty and idle (tests, `rescan --wait`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and self._q.unfinished_tasks == 0:
                    return True
            time.sleep(0.05)
        return False

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._q.task_done()
                return
            kind, kwargs, lock_key = item
            with self._lock:
                self._pending.discard((kind, repr(sorted(kwargs.items()))))
                held = self._running.setdefault(lock_key, [threading.Lock(), 0]) if lock_key else None
                if held is not None:
                    held[1] += 1
            try:
                # as procrastinate's lock: jobs with the same lock never run at once (a scan of a digest queued
                # under another repository while the first scan runs waits for it, then finds its work done)
                with held[0] if held is not None else nullcontext():
                    run_job(self.ctx, kind, kwargs)
            except Exception:
                log.exception("job %s %s failed", kind, kwargs)
            finally:
                if held is not None:
                    with self._lock:
                        held[1] -= 1
                        if not held[1]:
                            del self._running[lock_key]
                self._q.task_done()


def procrastinate_app(db_url: str) -> Any:
    """A procrastinate App on ``db_url`` with one task per job kind (``cg.KIND``)."""
    import procrastinate

    conninfo = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    for kind in JOBS:
        def make(k: str) -> Callable[..., dict[str, Any]]:
            def task(**kwargs: Any) -> dict[str, Any]:
                ctx: JobContext = _WORKER_CTX["ctx"]
                return run_job(ctx, k, kwargs)

            task.__name__ = f"cg_{k}"
            return task

        app.task(name=f"cg.{kind}", queue="containerguard",
                 retry=procrastinate.RetryStrategy(max_attempts=3, exponential_wait=5))(make(kind))
    return app


_WORKER_CTX: dict[str, JobContext] = {}


class ProcrastinateQueue:
    """Defers jobs into procrastinate's tables; ``containerguard worker`` processes run them."""

    def __init__(self, db_url: str) -> None:
        self.app = procrastinate_app(db_url)
        self._open = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self._open:
                self.app.open()
                self._open = True

    def stop(self) -> None:
        with self._lock:
            if self._open:
                self.app.close()
                self._open = False

    def defer(self, kind: str, **kwargs: Any) -> None:
        if kind not in JOBS:
            raise ContainerGuardError(f"unknown job kind {kind!r}")
        self.start()
        lock = kwargs.get("_lock")
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        task = self.app.tasks[f"cg.{kind}"]
        if lock:
            import procrastinate.exceptions

            # queueing_lock: one such job waiting at a time; lock: never two running at once (a job queued
            # while the first runs waits for it, then finds its work done -- e.g. one digest under two tags)
            with suppress(procrastinate.exceptions.AlreadyEnqueued):
                task.configure(queueing_lock=str(lock), lock=str(lock)).defer(**kwargs)
        else:
            task.defer(**kwargs)

    def depth(self) -> int:
        return -1  # counted in the database by metrics (procrastinate_jobs)


def run_worker(settings: Settings, sessions: sessionmaker[Session], *, name: str | None = None,
               concurrency: int = 1, heartbeat: float = 2.0, stalled_after: float = 15.0,
               install_signal_handlers: bool = True) -> None:
    """A procrastinate worker process: runs jobs, and retries jobs whose worker stopped sending heartbeats."""
    import asyncio

    app = procrastinate_app(settings.db_url)
    deferrer = ProcrastinateQueue(settings.db_url)
    ctx = JobContext(settings, sessions, deferrer, worker=name or f"{socket.gethostname()}:{os.getpid()}")
    _WORKER_CTX["ctx"] = ctx

    async def recover() -> None:
        while True:
            await asyncio.sleep(max(heartbeat, 1.0))
            try:
                for j in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
                    log.warning("job %s (%s) was running on a worker that stopped; retrying it", j.id, j.task_name)
                    await app.job_manager.retry_job(j)
            except Exception:
                log.exception("stalled-job check failed")

    async def main() -> None:
        async with app.open_async():
            rec = asyncio.create_task(recover())
            try:
                await app.run_worker_async(queues=["containerguard"], name=ctx.worker, concurrency=concurrency,
                                           update_heartbeat_interval=heartbeat, stalled_worker_timeout=stalled_after,
                                           install_signal_handlers=install_signal_handlers, delete_jobs="successful")
            finally:
                rec.cancel()
                deferrer.stop()

    asyncio.run(main())


# --------------------------------------------------------------------------- the jobs


@job("rescan_image")
def rescan_image(ctx: JobContext, image_id: int) -> dict[str, Any]:
    from containerguard.server.services import rescans

    return rescans.rescan_images(ctx, [image_id])


@job("rescan_batch")
def rescan_batch(ctx: JobContext, image_ids: list[int]) -> dict[str, Any]:
    from containerguard.server.services import rescans

    return rescans.rescan_images(ctx, list(image_ids))


@job("rescan_all")
def rescan_all(ctx: JobContext, batch: int = 25) -> dict[str, Any]:
    """Fan out: one ``rescan_batch`` per ``batch`` stored inventories, so several workers share the work."""
    from containerguard.server.store.models import Inventory

    with ctx.tx() as s:
        ids = list(s.scalars(select(Inventory.image_id).order_by(Inventory.image_id)))
    for i in range(0, len(ids), batch):
        ctx.queue.defer("rescan_batch", image_ids=ids[i:i + batch])
    return {"images": len(ids), "batches": (len(ids) + batch - 1) // batch}


@job("scan_image")
def scan_image(ctx: JobContext, registry_id: int, repository: str, reference: str, tag: str = "",
               index_digest: str = "", platform: str = "") -> dict[str, Any]:
    from containerguard.server.services import registries

    return registries.scan_image(ctx, registry_id, repository, reference, tag, index_digest, platform)


@job("poll_registry")
def poll_registry(ctx: JobContext, registry_id: int) -> dict[str, Any]:
    from containerguard.server.services import registries

    return registries.poll(ctx, registry_id)


@job("deliver")
def deliver(ctx: JobContext) -> dict[str, Any]:
    from containerguard.server.services import notify

    return notify.deliver_due(ctx)
