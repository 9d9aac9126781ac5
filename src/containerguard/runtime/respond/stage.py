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

#: the next stage: (alert, event, response outcomes) -> the alert as emitted
Finish = Callable[[Alert, Event, tuple[str, ...]], Alert]


class ResponseStage:
    """Runs responses for alerts and hands each alert on to ``finish`` with the outcomes."""

    def __init__(self, plan: ResponsePlan, responder: Responder, finish: Finish, lock: threading.RLock) -> None:
        self.plan = plan
        self.responder = responder
        self.finish = finish
        self._lock = lock
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cg-respond")

    def handle(self, alert: Alert, event: Event) -> Alert | None:
        """Respond to one alert; returns it as emitted, or None when container responses finish it later."""
        actions = self.plan.actions_for(alert)
        outcomes = tuple(self.responder.run(a, alert, event) for a in actions if a not in CONTAINER_ACTIONS)
        later = [a for a in actions if a in CONTAINER_ACTIONS]
        if later:
            self._pool.submit(self._later, alert, event, outcomes, later)
            return None
        self.plan.responded(alert, outcomes)
        return self.finish(alert, event, outcomes)

    def _later(self, alert: Alert, event: Event, done: tuple[str, ...], actions: list[str]) -> None:
        outcomes = done + tuple(self.responder.run(a, alert, event) for a in actions)
        self.plan.responded(alert, outcomes)
        with self._lock:
            self.finish(alert, event, outcomes)

    def close(self) -> None:
        """Wait for pending container responses (their alerts are emitted before this returns)."""
        self._pool.shutdown(wait=True)
