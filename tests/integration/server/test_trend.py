"""The dashboard's 30-day severity trend on a store with history (both backends): a server started over
findings first seen on different days draws one point per day since the first, from the stored first-seen
times (backfill); an upload writes today's counts; the dashboard itself writes nothing."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from containerguard.model import Finding as MFinding
from containerguard.model import FindingKind, Package, Severity
from containerguard.server.app import create_app, prepare
from containerguard.server.services import images, trend
from containerguard.server.settings import Settings
from containerguard.server.store import make_engine, migrate, session_factory, transaction
from containerguard.server.store.models import Finding, Image, SeverityDaily


def _f(vuln: str, sev: Severity) -> MFinding:
    return MFinding(kind=FindingKind.VULNERABILITY, id=vuln, severity=sev, title=vuln,
                    package=Package(type="pypi", name=f"pkg-{vuln}", version="1.0"))


def _store_with_history(db: str) -> dt.date:
    """Two images whose findings were first seen 10 days ago (2 critical), 5 days ago (3 high) and today
    (1 medium), written as an older server would have left them: no daily rows at all."""
    engine = make_engine(db)
    migrate(engine)
    today = dt.datetime.now(dt.UTC).date()
    with transaction(session_factory(engine)) as s:
        a, b = Image(digest=f"sha256:{1:064x}", name="reg/a:1"), Image(digest=f"sha256:{2:064x}", name="reg/b:1")
        s.add_all([a, b])
        s.flush()
        images.replace_findings(s, a, [_f("CVE-A1", Severity.CRITICAL), _f("CVE-A2", Severity.HIGH),
                                       _f("CVE-A3", Severity.MEDIUM)])
        images.replace_findings(s, b, [_f("CVE-B1", Severity.CRITICAL), _f("CVE-B2", Severity.HIGH),
                                       _f("CVE-B3", Severity.HIGH)])
        noon = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
        for sev, days in ((int(Severity.CRITICAL), 10), (int(Severity.HIGH), 5)):
            s.execute(update(Finding).where(Finding.severity == sev)
                      .values(first_seen=noon - dt.timedelta(days=days)))
        s.execute(SeverityDaily.__table__.delete())
    engine.dispose()
    return today


def test_backfilled_trend_then_live_snapshots(backend, tmp_path, docs):
    today = _store_with_history(backend)
    settings = Settings(db=backend, data_dir=tmp_path, inprocess_jobs=True, scheduler=False)
    prepared = prepare(settings)  # what `containerguard server` does at start
    factory = session_factory(prepared.engine)
    with transaction(factory) as s:
        series = trend.series(s)
        rows = {r.day: (r.critical, r.high, r.medium) for r in s.scalars(select(SeverityDaily))}
    assert series[0][0] == today - dt.timedelta(days=10)  # from the first day with a finding
    assert len(series) == 11
    by_day = {d: (c["critical"], c["high"], c["medium"]) for d, c in series}
    assert by_day[today - dt.timedelta(days=10)] == (2, 0, 0)
    assert by_day[today - dt.timedelta(days=6)] == (2, 0, 0)
    assert by_day[today - dt.timedelta(days=5)] == (2, 3, 0)
    assert by_day[today - dt.timedelta(days=1)] == (2, 3, 0)
    assert by_day[today] == (2, 3, 1)
    assert rows[today - dt.timedelta(days=3)] == (2, 3, 0)  # stored, not only drawn
    # a second start backfills nothing more
    with transaction(factory) as s:
        assert trend.backfill(s) == 0

    app = create_app(settings, engine=prepared.engine)
    with TestClient(app) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert client.post("/login", data={"csrf_token": csrf, "token": prepared.admin_token, "next": "/"},
                           follow_redirects=False).status_code == 303
        html = client.get("/").text
        desc = re.search(r'<desc id="ct-d">([^<]*)</desc>', html).group(1)
        assert desc == f"{(today - dt.timedelta(days=10)).isoformat()} to {today.isoformat()}; latest critical: 2, high: 3, medium: 1"
        assert html.count("<polyline") >= 3
        # an upload through the API writes today's row with the new counts
        r = client.post("/api/v1/scans", content=docs[0], headers={"Authorization": f"Bearer {prepared.admin_token}"})
        assert r.status_code == 201, r.text
    with transaction(factory) as s:
        live = trend.current(s)
        row = s.get(SeverityDaily, today)
        assert row is not None and (row.critical, row.high, row.medium) == (live["critical"], live["high"], live["medium"])
        assert sum(live.values()) > 6
    prepared.engine.dispose()


def test_backfill_counts_findings_open_then_and_resolved_since(backend):
    """Findings that open and resolve on different days, written through the service that ingest and rescans
    use, each step on its own day with that day's snapshot (what a running server writes). Then the daily rows
    are lost (a restored store) and the backfill rebuilds them: the same counts day by day, and each day counts
    what was open at its end (first seen <= day < resolved), resolved findings included."""
    engine = make_engine(backend)
    migrate(engine)
    factory = session_factory(engine)
    today = dt.datetime.now(dt.UTC).date()

    def on(days_ago: int, hour: int = 12) -> dt.datetime:
        return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour), tzinfo=dt.UTC)

    crit, high, med, low = (_f("CVE-C1", Severity.CRITICAL), _f("CVE-H1", Severity.HIGH),
                            _f("CVE-M1", Severity.MEDIUM), _f("CVE-L1", Severity.LOW))
    crit2 = _f("CVE-C2", Severity.CRITICAL)
    steps = [  # (days ago, hour, image, findings stored from then on)
        (10, 12, "a", [crit, high]),
        (6, 9, "a", [high]),                    # C1 fixed: open days -10..-7
        (3, 12, "a", [high, med]),
        (3, 13, "b", [crit2, low]),
        (3, 15, "b", [crit2]),                  # L1 opened and fixed the same day: never open at a day's end
        (1, 8, "a", []),                        # H1 and M1 fixed
        (0, 8, "b", [crit2]),
    ]
    with transaction(factory) as s:
        imgs = {k: Image(digest=f"sha256:{n:064x}", name=f"reg/{k}:1") for n, k in ((11, "a"), (12, "b"))}
        s.add_all(imgs.values())
        s.flush()
        for days_ago, hour, key, found in steps:
            images.replace_findings(s, imgs[key], found, now=on(days_ago, hour))
            trend.snapshot(s, today=today - dt.timedelta(days=days_ago))
    with transaction(factory) as s:
        live = trend.series(s, today=today)
        s.execute(SeverityDaily.__table__.delete())
    with transaction(factory) as s:
        assert trend.backfill(s, today=today) > 0
        rebuilt = trend.series(s, today=today)
    engine.dispose()

    def row(c: int, h: int, m: int, lo: int = 0) -> dict[str, int]:
        return {"critical": c, "high": h, "medium": m, "low": lo, "unknown": 0}

    expected = {10: row(1, 1, 0), 7: row(1, 1, 0), 6: row(0, 1, 0), 4: row(0, 1, 0), 3: row(1, 1, 1),
                2: row(1, 1, 1), 1: row(1, 0, 0), 0: row(1, 0, 0)}
    by_day = dict(rebuilt)
    for days_ago, counts in expected.items():
        assert by_day[today - dt.timedelta(days=days_ago)] == counts, days_ago
    assert rebuilt[0][0] == today - dt.timedelta(days=10)
    assert rebuilt == live  # the backfill and the day-by-day snapshots agree on every day
