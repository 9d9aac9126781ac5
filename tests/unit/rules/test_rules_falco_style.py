"""Idioms of real Falco rules files load and behave as in Falco."""

from __future__ import annotations

from containerguard.runtime.events import read_events
from containerguard.runtime.rules import load_rules


def test_falco_idioms(rules_dir, events_dir, expectations):
    rs = load_rules([rules_dir / "falco_style.yaml"])
    assert rs.warnings == []
    path = events_dir / "falco_style.jsonl"
    got = [[a.rule.split()[0] for a in rs.evaluate(ev)] for ev in read_events(path)]
    assert got == expectations(path)
    assert not rs.eval_errors


def test_falco_outputs(rules_dir, events_dir):
    rs = load_rules([rules_dir / "falco_style.yaml"])
    outputs = [a.output for ev in read_events(events_dir / "falco_style.jsonl") for a in rs.evaluate(ev)]
    assert outputs[0] == ("Outbound (connection=172.17.0.2:40000->93.184.216.34:443 sip=93.184.216.34 "
                          "container_id=0123456789ab container_name=web)")
    assert "mount /host/proc /data" in outputs
    assert "caps CAP_CHOWN CAP_SYS_ADMIN app=web" in outputs
    assert "f06 /bin/sh" in outputs


def test_bad_network_constant(write_rules):
    import pytest

    from containerguard.errors import RuleError

    p = write_rules("- rule: R\n  desc: d\n  condition: evt.type = connect and fd.snet in (10.0.0.0/33)\n"
                    "  output: x\n  priority: INFO\n")
    with pytest.raises(RuleError, match="not a network"):
        load_rules([p])
