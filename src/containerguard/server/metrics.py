"""Prometheus metrics (``/metrics``): request and ingest counters, job durations, and gauges read from the
database at scrape time (queue depth, findings by severity, images, hosts)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

INGESTED = Counter("containerguard_ingested_total", "Items ingested", ["kind"], registry=REGISTRY)
REQUESTS = Counter("containerguard_http_requests_total", "HTTP requests", ["method", "status"], registry=REGISTRY)
AUTH_FAILURES = Counter("containerguard_auth_failures_total", "Failed authentications", registry=REGISTRY)
JOB_SECONDS = Histogram("containerguard_job_seconds", "Job durations", ["kind", "status"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))


def job_finished(kind: str, status: str, seconds: float) -> None:
    JOB_SECONDS.labels(kind, status).observe(seconds)


class DatabaseCollector:
    """Gauges computed from the database at scrape time."""

    def __init__(self, sessions: Any, queue: Any) -> None:
        self.sessions = sessions
        self.queue = queue

    def collect(self) -> Any:
        from sqlalchemy import func, select, text

        from containerguard.model import Severity
        from containerguard.server.store.models import Alert, Finding, Host, Image

        try:
            with self.sessions() as s:
                sev = GaugeMetricFamily("containerguard_findings", "Stored findings by severity", labels=["severity"])
                for value, n in s.execute(select(Finding.severity, func.count()).group_by(Finding.severity)):
                    sev.add_metric([Severity(value).name], n)
                yield sev
                for name, model, doc in (("images", Image, "Stored images"), ("hosts", Host, "Known hosts"),
                                         ("alerts", Alert, "Stored runtime alerts")):
                    g = GaugeMetricFamily(f"containerguard_{name}", doc)
                    g.add_metric([], s.scalar(select(func.count()).select_from(model)) or 0)
                    yield g
                depth = self.queue.depth()
                if depth < 0 and s.bind is not None and s.bind.dialect.name == "postgresql":
                    depth = s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")) or 0
                q = GaugeMetricFamily("containerguard_job_queue_depth", "Jobs waiting")
                q.add_metric([], max(depth, 0))
                yield q
        except Exception:  # a scrape never fails the server; readyz reports the database
            return


def install(sessions: Any, queue: Any) -> None:
    for c in list(getattr(REGISTRY, "_cg_db", [])):
        REGISTRY.unregister(c)
    c = DatabaseCollector(sessions, queue)
    REGISTRY.register(c)
    REGISTRY._cg_db = [c]  # type: ignore[attr-defined]
