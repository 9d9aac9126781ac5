"""Response policy and the responder (kill_process against a real process)."""

from __future__ import annotations

import subprocess

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
    victim = subprocess.Popen(["sleep", "60"])
    r = Responder(None)
    ev = Event("execve", 0, {"proc.pid": victim.pid, "container.id": "host"})
    out = r.run("kill_process", _alert(Priority.CRITICAL), ev)
    assert out == f"kill_process {victim.pid}: ok"
    assert victim.wait(5) == -9
    again = r.run("kill_process", _alert(Priority.CRITICAL), Event("execve", 0, {"proc.pid": victim.pid}))
    assert again.startswith("kill_process: error:")
    assert r.run("kill_container", _alert(Priority.CRITICAL), ev) == \
        "kill_container: error: the event is not from a container"
    assert (r.done, r.failed) == (1, 2)
