"""Policy decisions reported to the central server by the enforcement points (``admission serve``, ``authz
serve``, ``agent --policy``), through the spool the agent's alerts use (:mod:`containerguard.spool`).

    enforcement point -> DecisionReporter.record(Report) -> buffer (no I/O on the decision path)
    -> spool file per batch -> POST /api/v1/policy/reports -> stored as policy violations, deduplicated by batch id

What is sent:

* every decision with at least one violation (deny, warn, inform; the runtime's container actions with their
  outcomes), one document each: the stage, the enforcement point's answer (``allowed``) and ``mode``
  (enforce, warn, dry-run), the object (namespace/kind/name for Kubernetes, container/image for Docker and
  the agent), the violations and the time;
* allowed decisions without a violation are counted, not sent one by one: each batch carries the counts
  since the last one (``counts``), and a counts-only batch goes at most every ``counts_interval`` seconds
  (it doubles as the enforcement point's heartbeat: the server lists when each one last reported).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from containerguard import __version__
from containerguard.policy.engine import PolicySet
from containerguard.policy.loader import LivePolicies, current_set
from containerguard.policy.model import Action, Decision, Stage, Violation
from containerguard.spool import BatchUplink

SOURCES = ("admission", "authz", "agent")


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """One decision as an enforcement point made it."""

    decision: Decision
    allowed: bool  # what the enforcement point answered
    mode: str = "enforce"  # enforce | warn | dry-run
    #: the object decided on: namespace, kind, name (Kubernetes); container, image, host (Docker, agent)
    obj: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: violation subject -> the image of that container (a workload has several)
    images: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: what the runtime did about it (``kill_container 3f2a9c0e1b7d: ok``)
    responses: Sequence[str] = ()
    user: str = ""  # who asked (the Kubernetes user, the Docker client's user)


#: the policy id under which a request that could not be evaluated at all is reported (fail-open or closed)
UNDECIDABLE = "CG-UNDECIDABLE"


def undecidable(subject: str, reason: str, *, allowed: bool, obj: Mapping[str, str], user: str = "",
                mode: str = "enforce") -> Report:
    """The report of a request the enforcement point could not evaluate and decided by its failure mode."""
    v = Violation(UNDECIDABLE, "request-not-evaluated", "high", Action.WARN if allowed else Action.DENY, subject,
                  f"The request could not be evaluated and was {'allowed (fail-open)' if allowed else 'denied (fail-closed)'}"
                  f": {reason}", "Look at the enforcement point's log; fix the input or the policy that fails.",
                  error=reason[:2000])
    return Report(Decision(Stage.DEPLOY, (v,)), allowed=allowed, mode=mode, obj=obj, user=user)


def policy_set_digest(ps: PolicySet) -> str:
    """A short digest naming the policy set in force (id, enforcement and condition of each policy)."""
    h = hashlib.sha256()
    for p in sorted(ps.policies, key=lambda p: p.id):
        h.update(f"{p.id}\0{p.enabled}\0{sorted((str(k), str(v)) for k, v in p.enforcement.items())}\0"
                 f"{p.condition}\0".encode())
    return h.hexdigest()[:16]


class DecisionReporter(BatchUplink):
    """Decisions of one enforcement point (``source``: admission, authz or agent) to ``server``."""

    def __init__(self, server: str, token: str, spool_dir: Path | str, *, source: str, instance: str | None = None,
                 policies: PolicySet | LivePolicies | None = None, batch_size: int = 200, flush_interval: float = 1.0,
                 counts_interval: float = 30.0, max_bytes: int = 64 << 20, timeout: float = 10.0,
                 max_backoff: float = 30.0) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown enforcement point {source!r}")
        self.source = source
        self.instance = instance or socket.gethostname()
        self.policies = policies
        self._digest: tuple[PolicySet | None, str] = (None, "")
        self.counts_interval = counts_interval
        self._counts = {"allowed": 0, "denied": 0, "warned": 0}
        self._counts_lock = threading.Lock()
        self._last_counts = 0.0
        super().__init__(server.rstrip("/") + "/api/v1/policy/reports", token, spool_dir, items_key="decisions",
                         batch_size=batch_size, flush_interval=flush_interval, max_bytes=max_bytes,
                         timeout=timeout, max_backoff=max_backoff, role_hint="an enforcer or agent token")

    def record(self, r: Report) -> None:
        """Count the decision and, when it has violations, queue it. Cheap: no I/O here."""
        with self._counts_lock:
            self._counts["allowed" if r.allowed else "denied"] += 1
            if r.decision.violations and r.allowed and any(str(v.action) in ("warn", "deny") for v in r.decision.violations):
                self._counts["warned"] += 1
        if not r.decision.violations:
            return
        self.emit({"time": dt.datetime.now(dt.UTC).isoformat(), "stage": str(r.decision.stage),
                   "allowed": r.allowed, "mode": r.mode, "object": dict(r.obj), "user": r.user,
                   "violations": [{**v.to_dict(), "image": r.images.get(v.subject, "")}
                                  for v in r.decision.violations],
                   "responses": list(r.responses), "warnings": list(r.decision.warnings[:20])})

    def policy_set(self) -> str:
        """The digest of the policy set in force now (reloads change it)."""
        if self.policies is None:
            return ""
        ps = current_set(self.policies)
        if self._digest[0] is not ps:
            self._digest = (ps, policy_set_digest(ps))
        return self._digest[1]

    def envelope(self, items: list[dict[str, Any]], dropped: int) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._counts_lock:
            counts = dict(self._counts)
            due = any(counts.values()) and now - self._last_counts >= self.counts_interval
            if not items and not dropped and not due:
                return None
            self._counts = dict.fromkeys(self._counts, 0)
        self._last_counts = now
        return {"source": self.source, "instance": self.instance, "version": __version__,
                "policy_set": self.policy_set(), "counts": counts, "decisions": items, "dropped": dropped}
