"""Notification deliveries: targets, rules, queued deliveries with retries/backoff, dead letters.

Owned by the `notify` helper (issue 11 notifications part) -- in progress, please do not edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard.server.store.models import Delivery, utcnow

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext


def has_due(session: Session) -> bool:
    return session.scalars(select(Delivery.id).where(Delivery.status == "pending",
                                                     Delivery.next_attempt <= utcnow()).limit(1)).first() is not None


def deliver_due(ctx: JobContext) -> dict[str, Any]:
    raise NotImplementedError
