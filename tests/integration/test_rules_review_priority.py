"""Falco's minimum priority (`priority:` in falco.yaml, `-o priority=...`): rules less severe than it are not run.
Through `rules replay --min-priority`, `rules list --min-priority`, the agent's option and a reload (review of
issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.model import Priority
from containerguard.runtime.rules import load_rules, reload_rules

RULES = "".join(
    f"- rule: r {p}\n  condition: evt.type=execve and proc.name=sh\n  output: o\n  priority: {p}\n"
    for p in ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"))


def _files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    ev = tmp_path / "e.jsonl"
    ev.write_text(json.dumps({"type": "execve", "time_ns": 1, "fields": {"proc.name": "sh"}}) + "\n")
    return rules, ev


@pytest.mark.parametrize(("minimum", "fired"), [
    (None, 8), ("debug", 8), ("info", 7), ("Notice", 6), ("WARNING", 5), ("warn", 5), ("error", 4), ("critical", 3),
    ("emergency", 1),
])
def test_replay_min_priority(tmp_path: Path, capsys, minimum: str | None, fired: int) -> None:
    rules, ev = _files(tmp_path)
    rc = main(["rules", "replay", "-r", str(rules), "-e", str(ev),
               *(["--min-priority", minimum] if minimum else [])])
    out, err = capsys.readouterr()
    assert rc == 0, err
    docs = [json.loads(x) for x in out.splitlines()]
    assert len(docs) == fired
    if minimum:
        floor = Priority.parse(minimum)
        assert all(Priority.parse(d["priority"]) >= floor for d in docs)


def test_replay_min_priority_refuses_garbage(tmp_path: Path, capsys) -> None:
    rules, ev = _files(tmp_path)
    assert main(["rules", "replay", "-r", str(rules), "-e", str(ev), "--min-priority", "severe"]) == 2
    assert "--min-priority 'severe': not a priority" in capsys.readouterr().err


def test_list_shows_rules_below_the_minimum_as_disabled(tmp_path: Path, capsys) -> None:
    rules, _ = _files(tmp_path)
    assert main(["rules", "list", "-r", str(rules), "-f", "json", "--min-priority", "error"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["enabled"] for r in rows] == [False] * 4 + [True] * 4
    assert rows[0]["disabled_reason"] == "priority Debug is below the minimum Error"


def test_reload_keeps_the_minimum(tmp_path: Path) -> None:
    rules, _ = _files(tmp_path)
    rs = load_rules([rules], min_priority=Priority.CRITICAL)
    assert [r.name for r in rs.enabled_rules] == ["r CRITICAL", "r ALERT", "r EMERGENCY"]
    again, err = reload_rules(rs)
    assert err is None and again is not rs
    assert [r.name for r in again.enabled_rules] == ["r CRITICAL", "r ALERT", "r EMERGENCY"]


def test_agent_refuses_a_bad_minimum(capsys) -> None:
    assert main(["agent", "--min-priority", "loud"]) == 2
    assert "--min-priority 'loud': not a priority" in capsys.readouterr().err


def test_min_priority_reaches_the_processes_reading_audit_logs(tmp_path: Path, capsys) -> None:
    # --source with --workers 2: the worker processes load the ruleset themselves and must apply the minimum too
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_cloud_replay import cases, cloudtrail_records  # the cloud replay tests' own record builder

    selected = [c for c in cases("cloudtrail") if c["rule"] == "CG-A005"]
    good = next(r for k, r in cloudtrail_records(selected) if k == "match")
    d = tmp_path / "logs"
    d.mkdir()
    for i in range(3):
        (d / f"{i}.json").write_text(json.dumps({"Records": [good]}))
    base = ["rules", "replay", "--source", "cloudtrail", "--workers", "2", "--events", str(d)]
    assert main(base) == 0
    docs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(docs) == 3
    above = next(p for p in Priority if p > Priority.parse(docs[0]["priority"]))
    assert main([*base, "--min-priority", above.name.lower()]) == 0
    assert capsys.readouterr().out == ""
