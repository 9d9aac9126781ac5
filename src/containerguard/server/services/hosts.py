"""Hosts, their containers and runtime alerts, as agents report them.

An agent sends batches: ``batch_id`` (unique per agent), optionally the full list of its running
containers (a snapshot: containers not in it are marked stopped), and alerts each with an agent-assigned
``uid``. A batch already received is acknowledged again and stores nothing (replays after a lost ack);
an alert uid already stored is skipped (the same alert in two batches). Alerts go in with one multi-row
``INSERT ... ON CONFLICT DO NOTHING`` statement (executemany, batched by SQLAlchemy), which keeps ingest cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from containerguard.model import Priority, Severity
from containerguard.server.services.events import raise_events
from containerguard.server.store import dialect_insert
from containerguard.server.store.models import AgentBatch, Alert, Baseline, Container, Event, Host, utcnow

#: alerts at or above this priority also raise a ``runtime_alert`` event (notifications filter further)
EVENT_PRIORITY = Priority.CRITICAL


def priority_severity(p: int) -> Severity:
    if p >= Priority.CRITICAL:
        return Severity.CRITICAL
    if p >= Priority.ERROR:
        return Severity.HIGH
    if p >= Priority.WARNING:
        return Severity.MEDIUM
    if p >= Priority.NOTICE:
        return Severity.LOW
    return Severity.NEGLIGIBLE


def host_row(session: Session, name: str, agent_version: str = "") -> Host:
    ins = dialect_insert(session)
    session.execute(ins(Host).values(name=name, agent_version=agent_version).on_conflict_do_nothing(
        index_elements=["name"]))
    host = session.scalars(select(Host).where(Host.name == name)).one()
    host.last_seen = utcnow()
    if agent_version:
        host.agent_version = agent_version
    return host


@dataclass(frozen=True)
class ReportResult:
    batch_id: str
    duplicate: bool
    alerts_stored: int
    containers: int | None


def report(session: Session, host_name: str, batch_id: str, *, agent_version: str = "",
           containers: Sequence[dict[str, Any]] | None = None, alerts: Sequence[dict[str, Any]] = (),
           baselines: Sequence[dict[str, Any]] | None = None) -> ReportResult:
    """Store one agent batch (see the module doc). ``alerts`` items: uid, time (datetime), rule, rule_id,
    priority (int), source, output, container_id, container_name, image, fields, tags."""
    host = host_row(session, host_name, agent_version)
    ins = dialect_insert(session)
    res = session.execute(ins(AgentBatch).values(host_id=host.id, batch_id=batch_id, alerts=len(alerts))
                          .on_conflict_do_nothing(index_elements=["host_id", "batch_id"]).returning(AgentBatch.id))
    if res.first() is None:
        return ReportResult(batch_id, True, 0, None)
    stored = 0
    if alerts:
        now = utcnow()
        if session.get_bind().dialect.name == "postgresql":
            new_uids = _insert_alerts_pg(session, host.id, now, alerts)
        else:
            rows = [{**a, "host_id": host.id, "received_at": now} for a in alerts]
            # executemany form: one cached statement, sent as multi-row batches by SQLAlchemy's insertmanyvalues
            table = Alert.__table__  # Core, not ORM bulk persistence: no per-row ORM bookkeeping
            stmt = ins(table).on_conflict_do_nothing(index_elements=["host_id", "uid"]).returning(table.c.uid)
            new_uids = set(session.connection().execute(stmt, rows).scalars())
        stored = len(new_uids)
        from containerguard.server.services import notify

        # lower when a notification target asks for runtime alerts from a lower priority (notify.matches filters)
        threshold = min(int(EVENT_PRIORITY), notify.alert_threshold(session))
        events = []
        for a in alerts:
            # only alerts stored now: a uid already stored (or repeated in this batch) is not news twice
            if a["priority"] >= threshold and a["uid"] in new_uids:
                new_uids.discard(a["uid"])
                cname = a.get("container_name", "")
                events.append(Event(
                    type="runtime_alert", severity=int(priority_severity(a["priority"])), host=host_name,
                    summary=f"{Priority(a['priority']).name} {a['rule']} on {host_name}"
                            f"{' in ' + cname if cname else ''}: {a['output'][:300]}",
                    detail={"rule": a["rule"], "container": cname, "image": a.get("image", ""),
                            "alert_uid": a["uid"], "priority": int(a["priority"])}))
        raise_events(session, events)  # one flush and one read of the notification targets per batch
    n = None
    if containers is not None:
        n = _snapshot(session, host, containers)
    if baselines is not None:
        _baselines(session, host, baselines)
    return ReportResult(batch_id, False, stored, n)


def _baselines(session: Session, host: Host, baselines: Sequence[dict[str, Any]]) -> None:
    """Replace the host's baselines with the agent's snapshot (items: workload, image, image_id, name_pattern,
    mode, locked, entries, deviations, last_change)."""
    now = utcnow()
    existing = {b.workload: b for b in session.scalars(select(Baseline).where(Baseline.host_id == host.id))}
    seen = set()
    for b in baselines:
        seen.add(b["workload"])
        values = {"image": b.get("image", ""), "image_digest": b.get("image_id", ""),
                  "name_pattern": b.get("name_pattern", ""), "mode": b["mode"], "locked": bool(b.get("locked")),
                  "entries": dict(b.get("entries") or {}), "deviations": int(b.get("deviations", 0)),
                  "last_change": b.get("last_change"), "updated_at": now}
        row = existing.get(b["workload"])
        if row is None:
            session.add(Baseline(host_id=host.id, workload=b["workload"], **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)
    for workload, row in existing.items():
        if workload not in seen:  # deleted on the agent
            session.delete(row)


def list_baselines(session: Session, *, host: str | None = None, mode: str | None = None,
                   image_digest: str | None = None, limit: int = 100, offset: int = 0) -> list[tuple[Baseline, str]]:
    """Reported baselines by host and workload."""
    q = select(Baseline, Host.name).join(Host, Host.id == Baseline.host_id)
    if host:
        q = q.where(Host.name == host)
    if mode:
        q = q.where(Baseline.mode == mode)
    if image_digest:
        q = q.where(Baseline.image_digest == image_digest)
    q = q.order_by(Host.name, Baseline.workload).limit(limit).offset(offset)
    return [(b, h) for b, h in session.execute(q).all()]


#: one statement per batch on PostgreSQL: each column is one array parameter, unnested into rows. A multi-row
#: VALUES statement has 14 placeholders per alert, and psycopg re-parses a statement that long on every
#: batch (it caches only short ones) -- most of the client's time per batch; PostgreSQL parses the arrays once.
_PG_ALERTS = (
    "INSERT INTO alerts (host_id, uid, time, rule, rule_id, priority, source, output, container_id, container_name,"
    " image, fields, tags, received_at)"
    " SELECT %(host_id)s, u.uid, u.t, u.rule, u.rule_id, u.priority, u.source, u.output, u.cid, u.cname, u.image,"
    " u.fields::json, u.tags::json, %(now)s"
    " FROM unnest(%(uid)s::text[], %(time)s::timestamptz[], %(rule)s::text[], %(rule_id)s::text[],"
    " %(priority)s::int[], %(source)s::text[], %(output)s::text[], %(cid)s::text[], %(cname)s::text[],"
    " %(image)s::text[], %(fields)s::text[], %(tags)s::text[])"
    " AS u(uid, t, rule, rule_id, priority, source, output, cid, cname, image, fields, tags)"
    " ON CONFLICT (host_id, uid) DO NOTHING RETURNING uid")


def _insert_alerts_pg(session: Session, host_id: int, now: dt.datetime, alerts: Sequence[dict[str, Any]]) -> set[str]:
    """The alerts stored now (a uid already stored, or repeated in the batch, is skipped), in one statement."""
    import json

    cols: dict[str, list[Any]] = {k: [] for k in ("uid", "time", "rule", "rule_id", "priority", "source", "output",
                                                  "cid", "cname", "image", "fields", "tags")}
    for a in alerts:
        cols["uid"].append(a["uid"])
        cols["time"].append(a["time"])
        cols["rule"].append(a["rule"])
        cols["rule_id"].append(a.get("rule_id", ""))
        cols["priority"].append(int(a["priority"]))
        cols["source"].append(a.get("source", "syscall"))
        cols["output"].append(a.get("output", ""))
        cols["cid"].append(a.get("container_id", ""))
        cols["cname"].append(a.get("container_name", ""))
        cols["image"].append(a.get("image", ""))
        cols["fields"].append(json.dumps(a.get("fields") or {}))
        cols["tags"].append(json.dumps(a.get("tags") or []))
    res = session.connection().exec_driver_sql(_PG_ALERTS, {"host_id": host_id, "now": now, **cols})
    return {str(r[0]) for r in res}


#: the columns a container snapshot sets (besides running and last_seen, which every report refreshes)
_SNAPSHOT_COLUMNS = ("name", "image", "image_digest", "privileged", "capabilities", "mounts", "ports", "network_mode",
                     "pid_mode", "ipc_mode", "read_only")


def _snapshot_values(c: dict[str, Any]) -> dict[str, Any]:
    return {"name": c.get("name", "")[:255], "image": c.get("image", "")[:512],
            "image_digest": c.get("image_id", "")[:80], "privileged": bool(c.get("privileged")),
            "capabilities": list(c.get("cap_add", [])), "mounts": list(c.get("mounts", [])),
            "ports": list(c.get("ports", [])), "network_mode": c.get("network_mode", "")[:64],
            "pid_mode": str(c.get("pid_mode", ""))[:80], "ipc_mode": str(c.get("ipc_mode", ""))[:80],
            "read_only": bool(c.get("read_only"))}


def _snapshot(session: Session, host: Host, containers: Sequence[dict[str, Any]]) -> int:
    """The host's running containers are exactly ``containers``. Most reports change nothing but the time
    (an agent sends its snapshot every minute): one statement refreshes the containers seen again, rows are
    rewritten only where something changed, new ones are inserted in one statement (Core, no ORM objects)."""
    now = utcnow()
    table = cast(Table, Container.__table__)
    cols = [table.c[k] for k in _SNAPSHOT_COLUMNS]
    existing = {r[1]: r for r in session.execute(select(table.c.id, table.c.container_id, table.c.running, *cols)
                                                 .where(table.c.host_id == host.id))}
    wanted = {c["id"]: _snapshot_values(c) for c in containers}  # a repeated id: the last one stands
    new, changed, seen = [], [], []
    for cid, values in wanted.items():
        row = existing.get(cid)
        if row is None:
            new.append({"host_id": host.id, "container_id": cid, **values, "running": True, "first_seen": now,
                        "last_seen": now})
            continue
        seen.append(row[0])
        if any(row[3 + i] != values[k] for i, k in enumerate(_SNAPSHOT_COLUMNS)):
            changed.append({"_id": row[0], **values})
    if seen:
        session.execute(update(table).where(table.c.id.in_(seen)).values(running=True, last_seen=now))
    if changed:
        session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values({k: bindparam(k) for k in _SNAPSHOT_COLUMNS}), changed)
    if new:
        session.execute(insert(table), new)
    gone = [r[0] for cid, r in existing.items() if cid not in wanted and r[2]]
    if gone:
        session.execute(update(table).where(table.c.id.in_(gone)).values(running=False))
    return len(wanted)


def list_hosts(session: Session, *, limit: int = 100, offset: int = 0, name: str | None = None) -> list[dict[str, Any]]:
    """Hosts by name, each with its running containers counted (one statement: a correlated count per host
    row on the (host_id, container_id) index, not a second query or an aggregate over every container)."""
    running = (select(func.count()).select_from(Container)
               .where(Container.host_id == Host.id, Container.running.is_(True)).correlate(Host).scalar_subquery())
    q = select(Host.id, Host.name, Host.first_seen, Host.last_seen, Host.agent_version,
               running.label("running_containers")).order_by(Host.name).limit(limit).offset(offset)
    if name:
        q = q.where(Host.name == name)
    return [dict(r._mapping) for r in session.execute(q)]


def container_dict(c: Container, host: str) -> dict[str, Any]:
    return {"id": c.id, "host": host, "container_id": c.container_id, "name": c.name, "image": c.image,
            "image_digest": c.image_digest, "privileged": c.privileged, "capabilities": c.capabilities,
            "mounts": c.mounts, "ports": c.ports, "network_mode": c.network_mode, "pid_mode": c.pid_mode,
            "ipc_mode": c.ipc_mode, "read_only": c.read_only, "running": c.running,
            "first_seen": c.first_seen, "last_seen": c.last_seen}


def host_view(session: Session, name: str) -> dict[str, Any] | None:
    """One host as its agent sees it on the server: the host row with its running-container count, its running
    containers, how many alerts are stored for it and when its last batch arrived. None: never reported."""
    rows = list_hosts(session, limit=1, name=name)
    if not rows:
        return None
    host = rows[0]
    containers = [container_dict(c, name) for c, _ in list_containers(session, host=name, running=True, limit=5000)]
    alerts = int(session.scalar(select(func.count()).select_from(Alert).where(Alert.host_id == host["id"])) or 0)
    last = session.scalar(select(func.max(AgentBatch.received_at)).where(AgentBatch.host_id == host["id"]))
    return {**host, "containers": containers, "alerts": alerts, "last_batch_at": last}


def list_containers(session: Session, *, host: str | None = None, running: bool | None = True,
                    image_digest: str | None = None, limit: int = 100, offset: int = 0) -> list[tuple[Container, str]]:
    q = select(Container, Host.name).join(Host, Host.id == Container.host_id)
    if host:
        q = q.where(Host.name == host)
    if running is not None:
        q = q.where(Container.running.is_(running))
    if image_digest:
        q = q.where(Container.image_digest == image_digest)
    return [(c, h) for c, h in session.execute(q.order_by(Container.id.desc()).limit(limit).offset(offset))]


def list_alerts(session: Session, *, host: str | None = None, min_priority: int | None = None,
                rule: str | None = None, since: dt.datetime | None = None, before_id: int | None = None,
                limit: int = 100) -> list[tuple[Alert, str]]:
    """Newest first (by id: keyset pagination with ``before_id``)."""
    q = select(Alert, Host.name).join(Host, Host.id == Alert.host_id)
    if host:
        q = q.where(Host.name == host)
    if min_priority is not None:
        q = q.where(Alert.priority >= min_priority)
    if rule:
        q = q.where(Alert.rule == rule)
    if since is not None:
        q = q.where(Alert.time >= since)
    if before_id is not None:
        q = q.where(Alert.id < before_id)
    return [(a, h) for a, h in session.execute(q.order_by(Alert.id.desc()).limit(limit))]
