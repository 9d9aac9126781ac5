"""The 30-day severity trend: findings by severity across every image, one row per day (``severity_daily``).

* ``snapshot`` writes today's counts (the per-image counts ingest and rescans keep, summed); ingest and rescans
  call it each time an image's findings change, so a day with any change has its row and the dashboard's GET
  writes nothing.
* ``note_resolved`` counts the findings that stop being stored (fixed, or no longer matched by a rescan) by
  (first-seen day, resolved day, severity) in ``severity_resolved``; ``images.replace_findings_many`` calls it.
* ``backfill`` fills the window when the table holds no earlier day (a fresh install over existing data, or a
  restored store): a day's counts are the findings open at the end of that day -- first seen on or before it
  and not resolved by then (first seen <= day < resolved day): the stored findings plus the resolved ones
  counted above. Findings resolved before ``severity_resolved`` existed (migration 1202) left no trace and
  cannot be counted; every later day is a real snapshot, which counts the same thing.
* ``series`` reads the window; a day without a row carries the last known counts forward (counts change only
  when findings change, and every change writes its day's row).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from containerguard.model import Severity
from containerguard.server.store import dialect_insert
from containerguard.server.store.models import Finding, Image, SeverityDaily, SeverityResolved, utcnow

#: severities in display order (worst first); ``unknown`` also holds negligible (as the image counts do)
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "unknown")
_BUCKET = {int(Severity.CRITICAL): "critical", int(Severity.HIGH): "high", int(Severity.MEDIUM): "medium",
           int(Severity.LOW): "low"}
WINDOW_DAYS = 30
log = logging.getLogger(__name__)


def current(session: Session) -> dict[str, int]:
    """Findings by severity across every image, from the per-image counts ingest and rescans keep."""
    row = session.execute(select(func.coalesce(func.sum(Image.critical), 0), func.coalesce(func.sum(Image.high), 0),
                                 func.coalesce(func.sum(Image.medium), 0), func.coalesce(func.sum(Image.low), 0),
                                 func.coalesce(func.sum(Image.other), 0))).one()
    return dict(zip(SEVERITIES, (int(x) for x in row), strict=True))


def _upsert(session: Session, day: dt.date, counts: Mapping[str, int]) -> None:
    values = {sev: int(counts.get(sev, 0)) for sev in SEVERITIES}
    q = dialect_insert(session)(SeverityDaily).values(day=day, **values)
    session.execute(q.on_conflict_do_update(index_elements=["day"], set_=values))


def snapshot(session: Session, today: dt.date | None = None) -> dict[str, int]:
    """Write today's counts (an upsert: two ingests on the same day do not collide). Returns them."""
    counts = current(session)
    _upsert(session, today or utcnow().date(), counts)
    return counts


def bucket(severity: int) -> str:
    return _BUCKET.get(int(severity), "unknown")


def _utc_day(at: dt.datetime) -> dt.date:
    return (at.astimezone(dt.UTC) if at.tzinfo is not None else at).date()


def note_resolved(session: Session, resolved: Iterable[tuple[dt.datetime, int]], day: dt.date) -> None:
    """Count findings (first seen, severity) that stopped being stored on ``day``: one upsert per (first-seen
    day, severity) that adds to what the day already holds."""
    counts: Counter[tuple[dt.date, str]] = Counter((_utc_day(fs), bucket(sev)) for fs, sev in resolved)
    if not counts:
        return
    ins = dialect_insert(session)(SeverityResolved)
    q = ins.on_conflict_do_update(index_elements=["first_day", "resolved_day", "severity"],
                                  set_={"count": SeverityResolved.count + ins.excluded.count})
    session.execute(q, [{"first_day": first, "resolved_day": day, "severity": sev, "count": n}
                        for (first, sev), n in sorted(counts.items())])


def _resolved_open(session: Session, start: dt.date, end: dt.date) -> dict[dt.date, dict[str, int]]:
    """Per day of [start, end): findings resolved since that were open at its end (first day <= d < resolved)."""
    out: dict[dt.date, dict[str, int]] = {}
    for r in session.scalars(select(SeverityResolved).where(SeverityResolved.resolved_day > start)):
        d = max(r.first_day, start)
        while d < min(r.resolved_day, end):
            day = out.setdefault(d, dict.fromkeys(SEVERITIES, 0))
            day[r.severity if r.severity in day else "unknown"] += int(r.count)
            d += dt.timedelta(days=1)
    return out


def _day_expr(session: Session) -> object:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Finding.first_seen), "YYYY-MM-DD")
    return func.substr(Finding.first_seen, 1, 10)  # SQLite keeps UTC text: YYYY-MM-DD HH:MM:SS


def backfill(session: Session, days: int = WINDOW_DAYS, today: dt.date | None = None) -> int:
    """Fill the window's missing days with what was open at the end of each (first seen <= day < resolved:
    the stored findings' first-seen times and the resolved counts) when no row exists before today. Returns
    the number of days written."""
    end = today or utcnow().date()
    if session.scalar(select(SeverityDaily.day).where(SeverityDaily.day < end).limit(1)) is not None:
        return 0
    start = end - dt.timedelta(days=days - 1)
    start_at = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    running = dict.fromkeys(SEVERITIES, 0)
    for sev, n in session.execute(select(Finding.severity, func.count()).where(Finding.first_seen < start_at)
                                  .group_by(Finding.severity)):
        running[bucket(sev)] += int(n)
    day_col = _day_expr(session)
    per_day: dict[dt.date, dict[str, int]] = {}
    rows = session.execute(select(day_col, Finding.severity, func.count())  # type: ignore[call-overload]
                           .where(Finding.first_seen >= start_at).group_by(day_col, Finding.severity))
    for day_text, sev, n in rows:
        try:
            d = dt.date.fromisoformat(str(day_text)[:10])
        except ValueError:
            continue
        per_day.setdefault(d, dict.fromkeys(SEVERITIES, 0))[bucket(sev)] += int(n)
    gone = _resolved_open(session, start, end)
    if not per_day and not gone and not any(running.values()):
        return 0
    have = set(session.scalars(select(SeverityDaily.day).where(SeverityDaily.day >= start)))
    written = 0
    d = start
    while d < end:
        for name, added in per_day.get(d, {}).items():
            running[name] += added
        day = {sev: running[sev] + gone.get(d, {}).get(sev, 0) for sev in SEVERITIES}
        if d not in have and any(day.values()):
            session.add(SeverityDaily(day=d, **day))
            written += 1
        d += dt.timedelta(days=1)
    if end not in have:
        _upsert(session, end, current(session))
        written += 1
    return written


def series(session: Session, days: int = WINDOW_DAYS, today: dt.date | None = None,
           live: Mapping[str, int] | None = None) -> list[tuple[dt.date, dict[str, int]]]:
    """(day, counts) for each day of the window from the first day with data, oldest first; gaps carry the
    previous day's counts; ``live`` (today's counts, when the caller has them) replaces today's row."""
    end = today or utcnow().date()
    start = end - dt.timedelta(days=days - 1)
    before = session.scalars(select(SeverityDaily).where(SeverityDaily.day < start)
                             .order_by(SeverityDaily.day.desc()).limit(1)).first()
    rows = {r.day: {sev: int(getattr(r, sev)) for sev in SEVERITIES}
            for r in session.scalars(select(SeverityDaily).where(SeverityDaily.day >= start, SeverityDaily.day <= end))}
    last = {sev: int(getattr(before, sev)) for sev in SEVERITIES} if before is not None else None
    out: list[tuple[dt.date, dict[str, int]]] = []
    d = start
    while d <= end:
        if d == end and live is not None:
            last = dict(live)
        elif d in rows:
            last = rows[d]
        if last is not None:
            out.append((d, dict(last)))
        d += dt.timedelta(days=1)
    return out


def record_today(tx: Callable[[], AbstractContextManager[Session]]) -> None:
    """``snapshot`` in a transaction of its own, after an ingest or rescan committed (so the day's row is locked
    only for an instant, never across an image's work); a failure is logged, never the caller's error."""
    try:
        with tx() as s:
            snapshot(s)
    except Exception:  # the trend is a view: losing one write of it must not fail a stored upload
        log.warning("could not write today's severity counts", exc_info=True)
