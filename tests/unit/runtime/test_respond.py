"""Response policy and the responder (kill_process against a real process)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from containerguard.errors import UsageError
from containerguard.model import Alert, Event, Priority
from containerguard.runtime.respond import Responder, ResponsePlan, parse_respond


def _alert(priority: Priority, actions: tuple[str, ...] = ()) -> Alert:
    return Alert(rule="r", rule_id="R1", priority=priority, output="o", time_ns=0, responses=actions)


def test_parse_respond() -> None:
    assert parse_respond("kill_container:CRITICAL") == ("kill_container", Priority.CRITICAL)
    assert parse_respond("kill-process:warning") == ("kill_process", Priority.WARNING)
    for bad in ("explode:CRITICAL", "kill_container", "kill_container:SEVERE"):
        with pytest.raises(UsageError):
            parse_respond(bad)


def test_policy_combines_rule_actions_and_priority_thresholds() -> None:
    pol = ResponsePlan(by_priority=[("pause_container", Priority.ERROR), ("kill_process", Priority.CRITICAL)])
    assert pol.actions_for(_alert(Priority.WARNING)) == []
    assert pol.actions_for(_alert(Priority.ERROR)) == ["pause_container"]
    assert pol.actions_for(_alert(Priority.CRITICAL)) == ["kill_process", "pause_container"]
    # the rule asks to kill the container: the strongest container action wins, once
    assert pol.actions_for(_alert(Priority.CRITICAL, ("kill_container",))) == ["kill_process", "kill_container"]



def test_kill_process_outcome() -> None:
    # a grandchild: the responder refuses the agent's own children
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; wait $!; echo $?"], stdout=subprocess.PIPE, text=True)
    assert shell.stdout is not None
    pid = int(shell.stdout.readline())
    r = Responder(None)
    ev = Event("execve", time.time_ns(), {"proc.pid": pid, "container.id": "c0ffee"})
    out = r.run("kill_process", _alert(Priority.CRITICAL), ev)
    assert out == f"kill_process {pid}: ok"
    assert shell.stdout.readline().strip() == "137"  # the shell saw its child die of SIGKILL
    shell.wait(5)
    again = r.run("kill_process", _alert(Priority.CRITICAL), ev)
    assert again == f"kill_process: error: process {pid} already exited"
    assert r.run("kill_container", _alert(Priority.CRITICAL), ev) == \
        "kill_container: error: no container runtime connection"
    assert (r.done, r.failed) == (1, 2)


@pytest.mark.parametrize("cid", ["e" * 64, "0123456789ab" * 5 + "cdef"])
def test_kill_process_refuses_outside_the_event_container(cid: str) -> None:
    """The pid is now held by a process outside the event's container (here: the test's own cgroup)."""
    victim = subprocess.Popen(["sleep", "60"])
    try:
        out = Responder(None).run("kill_process", _alert(Priority.CRITICAL),
                                  Event("openat", time.time_ns(), {"proc.pid": victim.pid, "container.id": cid[:12],
                                                                   "container.full_id": cid}))
        assert out.startswith("kill_process: error: refused:"), out
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_kill_process_refuses_a_reused_pid() -> None:
    """The event's process is gone and its pid belongs to a process started after the event: never kill it."""
    victim = subprocess.Popen(["sleep", "60"])
    try:
        for age_s in (1, 30, 3600):
            ev = Event("execve", time.time_ns() - age_s * 1_000_000_000, {"proc.pid": victim.pid, "container.id": "c"})
            out = Responder(None).run("kill_process", _alert(Priority.CRITICAL), ev)
            assert out == f"kill_process: error: refused: pid {victim.pid} now belongs to another process " \
                          "(started after the event)"
            assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_kill_process_refuses_the_agent_and_its_children() -> None:
    child = subprocess.Popen(["sleep", "60"])  # like the agent's bpftrace
    try:
        for pid in (os.getpid(), os.getppid(), child.pid, 1):
            ev = Event("execve", time.time_ns(), {"proc.pid": pid, "container.id": "c"})
            out = Responder(None).run("kill_process", _alert(Priority.CRITICAL), ev)
            assert out.startswith("kill_process: error: "), out
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


class _HangingRuntime:
    """A container runtime that does not answer (a hung Engine) until released."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.calls = 0

    def pause(self, container: str) -> object:
        return self.kill(container)

    def stop(self, container: str, timeout: int) -> object:
        return self.kill(container)

    def kill(self, container: str) -> object:
        self.calls += 1
        self.release.wait(30)
        return None


def test_container_responses_to_a_hanging_runtime_are_bounded() -> None:
    """A burst of alerts asking to kill containers while the runtime hangs: alerts from a container whose kill is
    under way are emitted at once, and past the bound the response is skipped and said so; nothing queues
    without bound, and the pending ones finish once the runtime answers."""
    import threading

    from containerguard.runtime.respond import ResponseStage

    rt = _HangingRuntime()
    emitted: list[tuple[str, tuple[str, ...]]] = []

    def finish(alert: Alert, event: Event, outcomes: tuple[str, ...]) -> Alert:
        emitted.append((str(event.fields["container.full_id"]), outcomes))
        return alert

    stage = ResponseStage(ResponsePlan(by_priority=[("kill_container", Priority.CRITICAL)]), Responder(rt), finish,
                          threading.RLock(), max_pending=8)
    cids = [f"{i:064x}" for i in range(20)]
    for _ in range(50):  # 50 alerts from each of 20 containers
        for cid in cids:
            ev = Event(type="execve", time_ns=0, fields={"container.full_id": cid, "proc.pid": 0})
            stage.handle(_alert(Priority.CRITICAL), ev)
    assert stage._pending == 8 and rt.calls <= 2
    assert len(emitted) == 1000 - 8  # every other alert went out at once
    pending = [o for _, o in emitted if o[0].endswith(": already pending")]
    skipped = [o for _, o in emitted if "skipped: 8 container responses are waiting" in o[0]]
    assert len(pending) == 8 * 49 and len(skipped) == 12 * 50 and stage.skipped == 600
    rt.release.set()
    stage.close()
    done = [o for _, o in emitted if o[0].endswith(": ok")]
    assert len(done) == 8 and stage._pending == 0
