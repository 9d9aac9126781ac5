"""The default ruleset: loads clean, every rule fires on its crafted recorded events, a benign stream is silent."""

from __future__ import annotations

import re

import pytest

from containerguard.model import Event, Priority
from containerguard.runtime.events import read_events
from containerguard.runtime.k8saudit import parse_audit_body
from containerguard.runtime.rules import (
    ACTIONS,
    SUPPORTED_FIELDS,
    default_rules_path,
    load_rules,
    reload_rules,
)


@pytest.fixture(scope="module")
def rs():
    return load_rules([default_rules_path()])


def test_loads_without_warnings_and_with_stable_ids(rs):
    assert rs.warnings == []
    ids = [r.id for r in rs.rules]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"CG-[RK]\d{3}", i) for i in ids)
    for r in rs.rules:
        assert r.enabled and r.desc and r.output
        assert any(t.startswith("mitre_") for t in r.tags), r.name
        assert any(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in r.tags), r.name
        assert set(r.actions) <= set(ACTIONS)
        if r.source == "syscall":
            assert r.event_types, f"{r.name} must be indexed by event type"
    assert not rs.all_event_types


def test_each_rule_fires_on_its_recorded_events(rs, events_dir, expectations):
    path = events_dir / "default_positive.jsonl"
    expected = expectations(path)
    got = [[a.rule_id for a in rs.evaluate(ev)] for ev in read_events(path)]
    assert got == expected
    fired = {r for g in got for r in g}
    assert fired == {r.id for r in rs.rules if r.source == "syscall"}


def test_benign_stream_is_silent(rs, events_dir):
    events = list(read_events(events_dir / "benign.jsonl"))
    assert len(events) > 200
    alerts = [a for ev in events for a in rs.evaluate(ev)]
    assert alerts == []
    assert not rs.eval_errors


def test_alert_carries_container_and_output(rs, events_dir):
    ev = next(iter(read_events(events_dir / "default_positive.jsonl")))
    [alert] = rs.evaluate(ev)
    assert alert.rule == "Shell spawned by a non-shell program in a container"
    assert alert.priority is Priority.WARNING
    assert alert.container_id == "4d5e6f7a8b9c" and alert.container_name == "shop-api"
    assert alert.image == "registry.local/shop/api:2.3.1"
    assert alert.output == ("Shell spawned in a container by a non-shell program (shell=sh parent=python3 cmdline=sh -c id "
                            "user=root container_id=4d5e6f7a8b9c container_name=shop-api "
                            "image=registry.local/shop/api:2.3.1)")
    assert alert.time_ns == ev.time_ns


@pytest.mark.parametrize(("name", "rule_ids"), [
    ("pod_create.json", [["CG-K001", "CG-K004", "CG-K008"], []]),
    ("pod_exec.json", [["CG-K002"]]),
    ("secrets.json", [["CG-K003"], [], [], [], ["CG-K005"]]),
])
def test_k8s_audit_rules(rs, events_dir, name, rule_ids):
    events = parse_audit_body((events_dir / "k8s" / name).read_bytes())
    assert [[a.rule_id for a in rs.evaluate(e)] for e in events] == rule_ids


def test_unsupplied_field_disables_the_rule_with_a_warning(tmp_path):
    available = SUPPORTED_FIELDS - {"proc.is_exe_upper_layer", "proc.tty"}
    rs = load_rules([default_rules_path()], available_fields=available)
    disabled = {r.id: r.disabled_reason for r in rs.rules if not r.enabled}
    assert disabled == {"CG-R002": "field 'proc.tty' not supplied by any source",
                        "CG-R005": "field 'proc.is_exe_upper_layer' not supplied by any source"}
    path = str(default_rules_path())
    assert any(w.startswith(path + ":") and "rule 'Terminal shell in a container' disabled: field 'proc.tty' "
               "not supplied by any source" in w for w in rs.warnings)
    drift = Event("execve", 1, {"proc.name": "x", "proc.exepath": "/tmp/x", "proc.is_exe_upper_layer": True,
                                "container.id": "abc"})
    assert [a.rule_id for a in rs.evaluate(drift)] == []
    assert "proc.is_exe_upper_layer" not in rs.fields_used


def test_event_types_for_the_sensor(rs):
    assert rs.event_types == {
        "execve", "execveat", "open", "openat", "openat2", "creat", "connect", "socket", "ptrace", "init_module",
        "finit_module", "unlink", "unlinkat", "rename", "renameat", "renameat2", "container", "mount", "bpf",
        "dup", "dup2", "dup3", "link", "linkat", "symlink", "symlinkat", "truncate", "ftruncate"}


def test_reload_keeps_the_last_good_ruleset(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("- rule: R\n  desc: d\n  condition: evt.type = execve and proc.name = a\n  output: x\n  priority: INFO\n")
    good = load_rules([p])
    p.write_text("- rule: R\n  desc: d\n  condition: evt.type = execve and (proc.name = a\n  output: x\n  priority: INFO\n")
    kept, err = reload_rules(good)
    assert kept is good and err is not None and err.line == 3
    assert [a.rule for a in kept.evaluate(Event("execve", 1, {"proc.name": "a"}))] == ["R"]
    p.write_text("- rule: R2\n  desc: d\n  condition: evt.type = execve and proc.name = b\n  output: x\n  priority: INFO\n")
    new, err = reload_rules(good)
    assert err is None and new is not good
    assert [a.rule for a in new.evaluate(Event("execve", 1, {"proc.name": "b"}))] == ["R2"]


@pytest.mark.parametrize(("drift", "upper", "fires"), [
    ("", True, False),  # the image's own file, only touched (copied up): the layers say it is the image's
    ("replaced after the container started (size 35280, image 14248)", False, True),  # the layers say it is not
    ("mode changed after the container started (4755, image 0755)", True, True),
    (None, True, True),  # the layers are not known: the upper-layer check decides
    (None, False, False),
    (None, None, False),
])
def test_drift_rule_takes_the_layers_verdict_when_known(rs, drift, upper, fires):
    f = {"proc.name": "tac", "proc.exepath": "/usr/bin/tac", "proc.pname": "sh", "container.id": "abc",
         "proc.exe_drift": drift, "proc.is_exe_upper_layer": upper}
    alerts = [a for a in rs.evaluate(Event("execve", 1, f)) if a.rule_id == "CG-R005"]
    assert len(alerts) == fires
    if fires:
        assert f"drift={drift if drift is not None else '<NA>'})" in alerts[0].output
