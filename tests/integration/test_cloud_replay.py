"""`rules replay --source cloudtrail|gcp|azure|k8s_audit`: the corpus through the CLI. Every rule fires on its
matching event and stays quiet on its near miss -- our default cloud rules and Falco's upstream plugin rules
(read from ../shared/falco-rules/plugins, unmodified)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fixtures.env import SHARED
from tests.integration.cloud_corpus import (
    DATA,
    cases,
    cloudtrail_records,
    stamp,
    time_key,
    write_cloudtrail_delivery,
)

from containerguard.cli.main import main
from containerguard.runtime.rules import cloud_rules_path

UPSTREAM = SHARED / "falco-rules" / "plugins"


def _replay(capsys: pytest.CaptureFixture[str], source: str, rules: list[Path], events: list[Path]) -> list[dict]:
    args = ["rules", "replay", "--source", source]
    for r in rules:
        args += ["--rules", str(r)]
    for e in events:
        args += ["--events", str(e)]
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    assert "malformed" not in err, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _check(selected: list[dict], alerts: list[dict], key: str) -> None:
    by_time: dict[str, set[str]] = {}
    for a in alerts:
        by_time.setdefault(time_key(a), set()).add(a[key])
    problems = []
    for i, case in enumerate(selected):
        fired = by_time.get(stamp(i, "match"), set())
        quiet = by_time.get(stamp(i, "miss"), set())
        if case["rule"] not in fired:
            problems.append(f"case {i} {case['rule']}: did not fire on its match (fired: {sorted(fired)})")
        if case["rule"] in quiet:
            problems.append(f"case {i} {case['rule']}: fired on its near miss")
    assert problems == []


@pytest.mark.parametrize("ruleset", ["cg", "upstream"])
def test_cloudtrail_corpus(tmp_path, capsys, ruleset):
    selected = [c for c in cases("cloudtrail") if c["ruleset"] == ruleset]
    recs = [r for _, r in cloudtrail_records(selected)]
    write_cloudtrail_delivery(tmp_path, recs)
    if ruleset == "cg":
        rules = [cloud_rules_path(), DATA / "region_override.yaml"]
        key = "rule_id"
    else:
        rules = [UPSTREAM / "aws_cloudtrail_rules.yaml"]
        key = "rule"
    alerts = _replay(capsys, "cloudtrail", rules, [tmp_path])
    _check(selected, alerts, key)
    if ruleset == "cg":
        # every rule of the default AWS ruleset has a case
        ids = {c["rule"] for c in selected}
        text = cloud_rules_path().read_text()
        assert {f"CG-A{n:03d}" for n in range(1, 14)} <= ids and all(f"containerguard.id: {i}" in text for i in ids)
    else:
        # every enabled upstream rule has a case
        names = {c["rule"] for c in selected}
        assert len(names) == 20


def test_cloudtrail_alert_carries_falco_fields(tmp_path, capsys):
    selected = [c for c in cases("cloudtrail") if c["rule"] == "CG-A006"]
    recs = [r for kind, r in cloudtrail_records(selected) if kind == "match"]
    write_cloudtrail_delivery(tmp_path, recs)
    alerts = _replay(capsys, "cloudtrail", [cloud_rules_path()], [tmp_path])
    assert len(alerts) == 1
    a = alerts[0]
    assert a["source"] == "aws_cloudtrail" and a["priority"] == "Warning"
    assert a["output_fields"]["ct.user"] == "alice" and a["output_fields"]["ct.srcip"] == "198.51.100.7"
    assert "sg-0a1b2c3d4e5f67890" in a["output"] and "T1562.007" in a["tags"]
