"""`containerguard rules ...` through the real CLI entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from containerguard.cli.main import main
from containerguard.runtime.rules import default_rules_path

DATA = Path(__file__).resolve().parents[1] / "data"
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def test_validate_ok_and_warnings(capsys):
    rc = main(["rules", "validate", str(DATA / "rules" / "everything.yaml")])
    out, err = capsys.readouterr()
    assert rc == 0
    # the rules this host's agent cannot run are listed with what they miss (an unknown field, a field no producer
    # supplies); `--any-host` checks the language only
    assert out.splitlines() == [
        "Cannot run here (the missing field or event type: the rules it disables):",
        "  evt.type=write: T07 bytes operators",
        "  proc.nosuchfield: T30 skip unknown filter",
        f"{DATA / 'rules' / 'everything.yaml'}: Ok (30 rules, 3 disabled on this host, 4 warnings)"]
    assert err.count("warning: ") == 4 and "no evt.type restriction" in err
    rc = main(["rules", "validate", "--any-host", str(DATA / "rules" / "everything.yaml")])
    out, err = capsys.readouterr()
    assert rc == 0 and out.splitlines()[-1].endswith("Ok (30 rules, 2 disabled on this host, 3 warnings)")


def test_validate_error_exit_1(capsys):
    bad = DATA / "rules" / "bad" / "cyclic_macros.yaml"
    rc = main(["rules", "validate", str(bad)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.strip() == f"{bad}: Invalid"
    assert err.strip() == f"error: {bad}:1: macro 'a' is cyclic: a -> b -> c -> a"


def test_validate_json(capsys):
    bad = DATA / "rules" / "bad" / "unknown_field.yaml"
    rc = main(["rules", "validate", "--format", "json", str(default_rules_path()), str(bad)])
    doc = json.loads(capsys.readouterr().out)
    # an unknown field disables its rule with a warning; the files still load
    assert rc == 0 and doc["ok"] is True and doc["errors"] == []
    assert f"{bad}:6: rule 'Unknown field' disabled: unknown field 'proc.nme' (column 21 of the condition)" \
        in doc["warnings"]
    assert {"rule": "Unknown field", "file": str(bad), "line": 4, "reason": "unknown field 'proc.nme'",
            "missing": ["proc.nme"]} in doc["disabled"]
    assert doc["unsupplied"]["proc.nme"] == ["Unknown field"]


def test_replay_default_rules_json_lines(capsys):
    rc = main(["rules", "replay", "--events", str(DATA / "events" / "default_positive.jsonl")])
    out, _ = capsys.readouterr()
    assert rc == 0
    docs = [json.loads(line) for line in out.splitlines()]
    expected = [r for line in (DATA / "events" / "default_positive.jsonl").read_text().splitlines()
                for r in json.loads(line)["expect"]]
    assert [d["rule_id"] for d in docs] == expected
    first = docs[0]
    assert set(first) == {"time", "rule", "priority", "source", "output", "output_fields", "tags", "rule_id",
                          "container_id", "container_name", "image"}
    assert RFC3339_NS.match(first["time"]) and first["time"] == "2025-11-27T12:03:20.123456789Z"
    assert first["priority"] == "Warning" and first["source"] == "syscall"
    assert first["output"].startswith("12:03:20.123456789: Warning Shell spawned in a container")
    assert first["container_id"] == "4d5e6f7a8b9c" and first["image"] == "registry.local/shop/api:2.3.1"
    assert first["output_fields"]["proc.name"] == "sh"
    assert "T1059" in first["tags"]


def test_replay_benign_is_empty_and_k8s_audit(capsys):
    rc = main(["rules", "replay", "-e", str(DATA / "events" / "benign.jsonl"),
               "--k8s-audit", str(DATA / "events" / "k8s" / "pod_exec.json")])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert [json.loads(x)["rule_id"] for x in out.splitlines()] == ["CG-K002"]


def test_replay_with_custom_rules_and_table(capsys):
    rc = main(["rules", "replay", "--rules", str(DATA / "rules" / "everything.yaml"),
               "--events", str(DATA / "events" / "everything.jsonl"), "--format", "table"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "alerts from 88 events" in out and "T26" in out
    assert "rule evaluation errors" not in err  # the recording's numeric proc.cmdline reads as its text


def test_replay_garbage_lines(tmp_path, capsys):
    src = (DATA / "events" / "default_positive.jsonl").read_text().splitlines()
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join([src[0], "garbage{", src[1]]) + "\n")
    rc = main(["rules", "replay", "-e", str(p)])
    out, err = capsys.readouterr()
    assert rc == 0 and len(out.splitlines()) == 3  # 1 + 2 alerts
    assert f"warning: skipped {p}:2: not JSON" in err and "1 malformed event lines skipped" in err
    rc = main(["rules", "replay", "-e", str(p), "--strict"])
    _, err = capsys.readouterr()
    assert rc == 2 and err.strip().startswith(f"error: {p}:2: not JSON")


def test_replay_bad_rules_exit_2(capsys):
    rc = main(["rules", "replay", "-r", str(DATA / "rules" / "bad" / "unclosed_paren.yaml"),
               "-e", str(DATA / "events" / "benign.jsonl")])
    assert rc == 2
    assert "unclosed_paren.yaml:3: rule 'Unclosed paren': unclosed '('" in capsys.readouterr().err


def test_list_json(capsys):
    rc = main(["rules", "list", "--format", "json"])
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 0 and rows[0]["id"] == "CG-R001"
    assert {r["id"] for r in rows} >= {"CG-R003", "CG-R033", "CG-K001"}
    assert rows[0]["event_types"] == ["execve", "execveat"]


def test_fields_and_subprocess_entry_point():
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "rules", "fields", "--format", "json"],
                          capture_output=True, text=True, check=True)
    catalog = json.loads(proc.stdout)
    assert catalog["proc.aname"]["arg"] == "optional" and catalog["ka.verb"]["source"] == "k8s_audit"
    assert catalog["proc.exepath"]["producer"] == "process_table" and catalog["ka.verb"]["producer"] == "k8s_audit"


def test_replay_fail_on_priority(capsys):
    events = str(DATA / "events" / "k8s" / "pod_exec.json")  # one Notice alert
    assert main(["rules", "replay", "--k8s-audit", events, "--fail-on", "notice"]) == 1
    assert main(["rules", "replay", "--k8s-audit", events, "--fail-on", "warning"]) == 0
    assert main(["rules", "replay", "-e", str(DATA / "events" / "benign.jsonl"), "--fail-on", "debug"]) == 0
    assert main(["rules", "replay", "--k8s-audit", events, "--fail-on", "loud"]) == 2
    assert "not a priority" in capsys.readouterr().err


def _plugin_site(tmp_path: Path, target: str) -> Path:
    """A real installed distribution (a .dist-info on the path) registering a rules file entry point."""
    site = tmp_path / "site"
    (site / "cg_extra_rules-1.0.dist-info").mkdir(parents=True)
    (site / "cg_extra_rules-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: cg-extra-rules\nVersion: 1.0\n")
    (site / "cg_extra_rules-1.0.dist-info" / "entry_points.txt").write_text(f"[containerguard.rules]\nextra = {target}\n")
    rules = tmp_path / "extra.yaml"
    rules.write_text("- rule: Extra plugin rule\n  containerguard.id: X-001\n  desc: from a plugin\n"
                     "  condition: evt.type = execve and proc.name = plugged\n  output: plugged %proc.name\n"
                     "  priority: NOTICE\n  tags: [mitre_execution, T1059]\n")
    (site / "cg_extra_rules.py").write_text(f"from pathlib import Path\nRULES = Path({str(rules)!r})\n"
                                            "def broken():\n    raise OSError('disk on fire')\n")
    return site


def test_plugin_rules_are_loaded_by_default(tmp_path):
    import os

    site = _plugin_site(tmp_path, "cg_extra_rules:RULES")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "rules", "list", "--format", "json"],
                          capture_output=True, text=True, env=env, check=True)
    ids = [json.loads(x)["id"] for x in proc.stdout.splitlines()]
    assert ids[0] == "CG-R001" and ids[-1] == "X-001"
    broken = _plugin_site(tmp_path / "b", "cg_extra_rules:broken")
    env["PYTHONPATH"] = str(broken)
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "rules", "list"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: rules plugin 'extra' (cg_extra_rules:broken) failed to load: "
                                   "disk on fire")
