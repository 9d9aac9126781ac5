"""Policy violations reported by enforcement points (`scan --policy --server`, the admission webhook, the
Docker plugin, the agent): stored one row per violation, listed newest first and counted per policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from containerguard.server.services.audit import Actor
from containerguard.server.store.models import PolicyViolation

MAX_DETAILS = 50


def record(session: Session, actor: Actor, *, stage: str, source: str, image_name: str, image_digest: str,
           violations: Sequence[dict[str, Any]]) -> int:
    for v in violations:
        session.add(PolicyViolation(
            stage=stage, source=source, reporter=actor.name, image_name=image_name, image_digest=image_digest,
            policy_id=v["policy"], policy_name=v["name"], severity=v["severity"], action=v["action"],
            subject=v["subject"], message=v["message"], remediation=v.get("remediation", ""),
            details=list(v.get("details", []))[:MAX_DETAILS], error=v.get("error", "")))
    session.flush()
    return len(violations)


def as_dict(v: PolicyViolation) -> dict[str, Any]:
    return {"id": v.id, "recorded_at": v.recorded_at.isoformat(), "stage": v.stage, "source": v.source,
            "reporter": v.reporter, "image_name": v.image_name, "image_digest": v.image_digest,
            "policy": v.policy_id, "name": v.policy_name, "severity": v.severity, "action": v.action,
            "subject": v.subject, "message": v.message, "remediation": v.remediation, "details": v.details,
            "error": v.error}


STAGES = ("build", "deploy", "runtime")


def listing(session: Session, *, policy: str = "", stage: str = "", image_digest: str = "", action: str = "",
            limit: int = 100, offset: int = 0) -> list[PolicyViolation]:
    """Newest first, one page (``limit`` rows from ``offset``), filtered by policy id, stage, image, action."""
    q = select(PolicyViolation).order_by(PolicyViolation.recorded_at.desc(), PolicyViolation.id.desc())
    if policy:
        q = q.where(PolicyViolation.policy_id == policy)
    if stage:
        q = q.where(PolicyViolation.stage == stage)
    if image_digest:
        q = q.where(PolicyViolation.image_digest == image_digest)
    if action:
        q = q.where(PolicyViolation.action == action)
    return list(session.scalars(q.limit(limit).offset(offset)))


def actions(session: Session) -> list[str]:
    """The actions violations were recorded with (for a filter's choices)."""
    return [a for (a,) in session.execute(select(PolicyViolation.action).distinct().order_by(PolicyViolation.action)
                                          .limit(50)) if a]


def summary(session: Session) -> list[dict[str, Any]]:
    """Violations per policy and action, most frequent first."""
    rows = session.execute(
        select(PolicyViolation.policy_id, PolicyViolation.policy_name, PolicyViolation.action,
               func.count(PolicyViolation.id), func.max(PolicyViolation.recorded_at))
        .group_by(PolicyViolation.policy_id, PolicyViolation.policy_name, PolicyViolation.action)
        .order_by(func.count(PolicyViolation.id).desc(), PolicyViolation.policy_id))
    return [{"policy": p, "name": n, "action": a, "count": c, "last": last.isoformat() if last else None}
            for p, n, a, c, last in rows]
