"""Policy violations reported by enforcement points (`scan --policy --server`, the admission webhook, the
Docker plugin, the agent): stored one row per violation, listed newest first and counted per policy.

The admission webhook, the Docker plugin and agents send batches of decisions (:func:`ingest`): a batch id
already received from the same reporter is acknowledged and stores nothing (a replay after a lost answer or
an outage); each decision's violations become rows sharing its ``decision_uid``; the enforcement point's row
(:class:`PolicyEnforcer`) keeps its counts, policy set and last report; a decision that blocked (deny, a
runtime container action, fail-build) raises one ``policy_violation`` event, which notification rules can
match (event type, minimum severity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from containerguard.model import Severity
from containerguard.server.services.audit import Actor
from containerguard.server.services.events import raise_events
from containerguard.server.store import dialect_insert
from containerguard.server.store.models import (
    Event,
    PolicyEnforcer,
    PolicyReportBatch,
    PolicyViolation,
    utcnow,
)

MAX_DETAILS = 50
#: actions that block: a decision with one of them raises a ``policy_violation`` event
BLOCKING = frozenset({"deny", "fail-build", "kill_process", "pause_container", "stop_container", "kill_container"})
SEVERITY = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW,
            "info": Severity.NEGLIGIBLE}


_TOTAL_MAX = 2**63 - 1


def record(session: Session, actor: Actor, *, stage: str, source: str, image_name: str, image_digest: str,
           violations: Sequence[dict[str, Any]]) -> int:
    """The violations of one build decision (``scan --policy --server``); a blocking one raises an event."""
    for v in violations:
        session.add(PolicyViolation(
            stage=stage, source=source, reporter=actor.name, image_name=image_name, image_digest=image_digest,
            policy_id=v["policy"], policy_name=v["name"], severity=v["severity"], action=v["action"],
            subject=v["subject"], message=v["message"], remediation=v.get("remediation", ""),
            details=list(v.get("details", []))[:MAX_DETAILS], error=v.get("error", ""),
            allowed=not any(x["action"] in BLOCKING for x in violations)))
    session.flush()
    ev = _event(source, stage, actor.name, image_name or image_digest, violations, image_digest=image_digest)
    raise_events(session, [ev] if ev is not None else [])
    return len(violations)


def _event(source: str, stage: str, reporter: str, what: str, violations: Sequence[dict[str, Any]], *,
           image_digest: str = "", host: str = "", mode: str = "enforce", allowed: bool = False,
           uid: str = "") -> Event | None:
    """The ``policy_violation`` event of a decision that blocked (None when nothing blocked)."""
    blocking = [v for v in violations if v["action"] in BLOCKING]
    if not blocking or allowed:
        return None
    sev = max(int(SEVERITY.get(str(v["severity"]).lower(), Severity.UNKNOWN)) for v in blocking)
    ids = sorted({str(v["policy"]) for v in blocking})
    verb = {"deploy": "denied", "build": "failed the build of", "runtime": "acted on"}.get(stage, "blocked")
    return Event(type="policy_violation", severity=sev, image_digest=image_digest, host=host,
                 summary=f"{source} {verb} {what[:300]}: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}",
                 detail={"source": source, "stage": stage, "reporter": reporter, "policies": ids, "mode": mode,
                         "actions": sorted({str(v["action"]) for v in blocking}), "decision_uid": uid,
                         "message": str(blocking[0]["message"])[:500]})


@dataclass(frozen=True)
class IngestResult:
    batch_id: str
    duplicate: bool
    decisions: int
    violations: int


def _enforcer(session: Session, actor: Actor, batch: dict[str, Any]) -> PolicyEnforcer:
    """The enforcement point's row, created when first seen (an upsert: two replicas' first batches may race)."""
    key = {"source": batch["source"], "instance": batch["instance"], "reporter": actor.name}
    session.execute(dialect_insert(session)(PolicyEnforcer).values(**key, allowed=0, denied=0, warned=0, dropped=0,
                                                           first_seen=utcnow(), last_seen=utcnow())
                    .on_conflict_do_nothing(index_elements=["source", "instance", "reporter"]))
    return session.scalars(select(PolicyEnforcer).where(
        PolicyEnforcer.source == key["source"], PolicyEnforcer.instance == key["instance"],
        PolicyEnforcer.reporter == key["reporter"]).with_for_update()).one()


def ingest(session: Session, actor: Actor, batch: dict[str, Any]) -> IngestResult:
    """Store one batch of decisions (see the module doc). ``batch``: the validated body of
    ``POST /policy/reports`` (source, instance, version, policy_set, counts, dropped, decisions)."""
    ins = dialect_insert(session)
    res = session.execute(ins(PolicyReportBatch).values(reporter=actor.name, batch_id=batch["batch_id"],
                                                        decisions=len(batch["decisions"]), received_at=utcnow())
                          .on_conflict_do_nothing(index_elements=["reporter", "batch_id"])
                          .returning(PolicyReportBatch.id))
    if res.first() is None:
        return IngestResult(batch["batch_id"], True, 0, 0)
    enf = _enforcer(session, actor, batch)
    now = utcnow()
    enf.last_seen, enf.version, enf.policy_set = now, batch["version"], batch["policy_set"]
    counts = batch["counts"]
    # totals saturate at the BIGINT column's end: past it PostgreSQL refused every later batch of the enforcer
    enf.allowed = min((enf.allowed or 0) + counts.get("allowed", 0), _TOTAL_MAX)
    enf.denied = min((enf.denied or 0) + counts.get("denied", 0), _TOTAL_MAX)
    enf.warned = min((enf.warned or 0) + counts.get("warned", 0), _TOTAL_MAX)
    enf.dropped = min((enf.dropped or 0) + batch["dropped"], _TOTAL_MAX)
    rows, events = [], []
    for d in batch["decisions"]:
        obj = d["object"]
        what = _object_label(batch["source"], obj)
        for v in d["violations"]:
            rows.append(PolicyViolation(
                recorded_at=now, stage=d["stage"], source=batch["source"], reporter=actor.name,
                image_name=v.get("image") or obj.get("image", ""), image_digest="", policy_id=v["policy"],
                policy_name=v["name"], severity=v["severity"], action=v["action"], subject=v["subject"],
                message=v["message"], remediation=v.get("remediation", ""),
                details=list(v.get("details", []))[:MAX_DETAILS], error=v.get("error", ""),
                decision_uid=d["uid"], decided_at=d["time"], instance=batch["instance"],
                namespace=obj.get("namespace", ""), object_kind=obj.get("kind", ""),
                object_name=obj.get("name", "") or obj.get("container", ""), container=obj.get("container", ""),
                allowed=d["allowed"], mode=d["mode"], responses=list(d.get("responses", [])), user=d.get("user", "")))
        ev = _event(batch["source"], d["stage"], actor.name, what, d["violations"], mode=d["mode"],
                    allowed=d["allowed"] and d["stage"] != "runtime", uid=d["uid"],
                    host=obj.get("host", "") if batch["source"] == "agent" else "")
        if ev is not None:
            ev.detail = {**ev.detail, "object": obj, "responses": list(d.get("responses", []))}
            events.append(ev)
    session.add_all(rows)
    raise_events(session, events)
    session.flush()
    return IngestResult(batch["batch_id"], False, len(batch["decisions"]), len(rows))


def _object_label(source: str, obj: dict[str, Any]) -> str:
    if obj.get("namespace") and obj.get("kind") not in ("container", "exec"):
        return f"{obj.get('kind', '')} {obj['namespace']}/{obj.get('name', '')}"
    name = obj.get("name") or obj.get("container") or "?"
    where = f" on {obj['host']}" if obj.get("host") else ""
    image = f" ({obj['image']})" if obj.get("image") else ""
    return f"{'exec in ' if obj.get('kind') == 'exec' else ''}container {name}{image}{where}"


def enforcers(session: Session) -> list[dict[str, Any]]:
    """The enforcement points that reported, most recent first; ``policy_set_current``: whether the set it
    reported is the server's (`policy push`) as it stands now."""
    from containerguard.server.services.policy_files import effective_digest

    rows = list(session.scalars(select(PolicyEnforcer).order_by(PolicyEnforcer.last_seen.desc(), PolicyEnforcer.id)))
    current = effective_digest(session) if rows else ""
    return [{"source": e.source, "instance": e.instance, "reporter": e.reporter, "version": e.version,
             "policy_set": e.policy_set, "policy_set_current": e.policy_set == current,
             "first_seen": e.first_seen.isoformat(), "last_seen": e.last_seen.isoformat(),
             "allowed": e.allowed, "denied": e.denied, "warned": e.warned, "dropped": e.dropped} for e in rows]


def as_dict(v: PolicyViolation) -> dict[str, Any]:
    return {"id": v.id, "recorded_at": v.recorded_at.isoformat(), "stage": v.stage, "source": v.source,
            "reporter": v.reporter, "image_name": v.image_name, "image_digest": v.image_digest,
            "policy": v.policy_id, "name": v.policy_name, "severity": v.severity, "action": v.action,
            "subject": v.subject, "message": v.message, "remediation": v.remediation, "details": v.details,
            "error": v.error, "decision_uid": v.decision_uid,
            "decided_at": v.decided_at.isoformat() if v.decided_at else None, "instance": v.instance,
            "object": {"namespace": v.namespace, "kind": v.object_kind, "name": v.object_name,
                       "container": v.container},
            "allowed": v.allowed, "mode": v.mode, "responses": list(v.responses or []), "user": v.user}


@dataclass(frozen=True)
class Filters:
    """What ``GET /policy/violations`` (and the console's Policies page) can narrow the listing to."""

    policy: str = ""
    stage: str = ""
    source: str = ""
    action: str = ""
    namespace: str = ""
    image_digest: str = ""
    decision: str = ""  # "denied" (the enforcement point refused or acted) or "allowed"
    since: dt.datetime | None = None


STAGES = ("build", "deploy", "runtime")


def actions(session: Session) -> list[str]:
    """The actions violations were recorded with (for a filter's choices)."""
    return [a for (a,) in session.execute(select(PolicyViolation.action).distinct().order_by(PolicyViolation.action)
                                          .limit(50)) if a]


def listing(session: Session, *, policy: str = "", stage: str = "", image_digest: str = "",
            limit: int = 100, filters: Filters | None = None, before_id: int | None = None,
            offset: int = 0) -> list[PolicyViolation]:
    """Newest first (by id: keyset paging with ``before_id``, or ``offset`` rows skipped)."""
    f = filters or Filters(policy=policy, stage=stage, image_digest=image_digest)
    q = select(PolicyViolation).order_by(PolicyViolation.id.desc())
    for col, value in ((PolicyViolation.policy_id, f.policy), (PolicyViolation.stage, f.stage),
                       (PolicyViolation.source, f.source), (PolicyViolation.action, f.action),
                       (PolicyViolation.namespace, f.namespace), (PolicyViolation.image_digest, f.image_digest)):
        if value:
            q = q.where(col == value)
    if f.decision:
        q = q.where(PolicyViolation.allowed.is_(f.decision == "allowed"))
    if f.since is not None:
        q = q.where(PolicyViolation.recorded_at >= f.since)
    if before_id is not None:
        q = q.where(PolicyViolation.id < before_id)
    return list(session.scalars(q.limit(limit).offset(offset)))


def summary(session: Session) -> list[dict[str, Any]]:
    """Violations per policy and action, most frequent first."""
    rows = session.execute(
        select(PolicyViolation.policy_id, PolicyViolation.policy_name, PolicyViolation.action,
               func.count(PolicyViolation.id), func.max(PolicyViolation.recorded_at))
        .group_by(PolicyViolation.policy_id, PolicyViolation.policy_name, PolicyViolation.action)
        .order_by(func.count(PolicyViolation.id).desc(), PolicyViolation.policy_id))
    return [{"policy": p, "name": n, "action": a, "count": c, "last": last.isoformat() if last else None}
            for p, n, a, c, last in rows]
