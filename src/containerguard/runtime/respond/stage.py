"""The respond stage: each alert gets the responses its plan names, then goes on to the emit stage.

Killing a process cannot wait, so it runs inline; Engine calls (a stop takes seconds) run on a small pool and
the alert is emitted once their outcomes are known, under the pipeline's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from containerguard.model import Alert, Event
from containerguard.runtime.respond.actions import Responder
from containerguard.runtime.respond.plan import ResponsePlan
from containerguard.runtime.rules.vocabulary import CONTAINER_ACTIONS

#: container responses waiting for the runtime at most (past that, alerts are emitted with the response skipped)
MAX_PENDING = 256
#: the next stage: (alert, event, response outcomes) -> the alert as emitted
Finish = Callable[[Alert, Event, tuple[str, ...]], Alert]


class ResponseStage:
    """Runs responses for alerts and hands each alert on to ``finish`` with the outcomes."""

    def __init__(self, plan: ResponsePlan, responder: Responder, finish: Finish, lock: threading.RLock, *,
                 max_pending: int = MAX_PENDING) -> None:
        self.plan = plan
        self.responder = responder
        self.finish = finish
        self.max_pending = max_pending
        self.skipped = 0  # container responses not queued: the runtime had too many waiting
        self._lock = lock
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cg-respond")
        self._plock = threading.Lock()
        self._pending = 0
        self._inflight: set[tuple[str, str]] = set()

    def handle(self, alert: Alert, event: Event) -> Alert | None:
        """Respond to one alert; returns it as emitted, or None when container responses finish it later.

        Container responses wait for the runtime, so they are bounded: while one action on a container is under
        way, further alerts from that container are emitted at once (``already pending``), and past
        ``max_pending`` alerts waiting in all, the response is skipped and said so. A runtime that hangs then
        delays no alert by more than one call and holds no unbounded queue of them."""
        actions = self.plan.actions_for(alert)
        outcomes = tuple(self.responder.run(a, alert, event) for a in actions if a not in CONTAINER_ACTIONS)
        later = [a for a in actions if a in CONTAINER_ACTIONS]
        if later:
            cid = str(event.fields.get("container.full_id") or event.fields.get("container.id") or "")
            keys = [(a, cid) for a in later]
            with self._plock:
                busy = any(k in self._inflight for k in keys)
                full = self._pending >= self.max_pending
                if not busy and not full:
                    self._pending += 1
                    self._inflight.update(keys)
                    self._pool.submit(self._later, alert, event, outcomes, later, keys)
                    return None
                waiting = self._pending
            if busy:
                outcomes += tuple(f"{a} {cid[:12]}: already pending" for a in later)
            else:
                self.skipped += 1
                outcomes += tuple(f"{a}: error: skipped: {waiting} container responses are waiting for the runtime"
                                  for a in later)
        self.plan.responded(alert, outcomes)
        return self.finish(alert, event, outcomes)

    def _later(self, alert: Alert, event: Event, done: tuple[str, ...], actions: list[str],
               keys: list[tuple[str, str]]) -> None:
        try:
            outcomes = done + tuple(self.responder.run(a, alert, event) for a in actions)
        finally:
            with self._plock:
                self._pending -= 1
                self._inflight.difference_update(keys)
        self.plan.responded(alert, outcomes)
        with self._lock:
            self.finish(alert, event, outcomes)

    def close(self) -> None:
        """Wait for pending container responses (their alerts are emitted before this returns)."""
        self._pool.shutdown(wait=True)
