"""The server's clock: polls registries whose interval has passed and delivers due notifications.
Several server processes may run it; the jobs it defers are idempotent and deduplicated by the queue."""

from __future__ import annotations

import logging
import threading

from containerguard.server.api.deps import State

log = logging.getLogger(__name__)


def tick(st: State) -> None:
    from containerguard.server.services import notify, registries

    with st.sessions() as s:
        due = registries.due_for_poll(s)
        pending = notify.has_due(s)
    for rid in due:
        st.jobs.defer("poll_registry", registry_id=rid, _lock=f"poll-{rid}")
    if pending:
        st.jobs.defer("deliver", _lock="deliver")


def run_scheduler(st: State, stop: threading.Event) -> None:
    while not stop.wait(st.settings.tick_seconds):
        try:
            tick(st)
        except Exception:
            log.exception("scheduler tick failed")
