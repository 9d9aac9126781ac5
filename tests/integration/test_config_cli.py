"""`containerguard config` through its real entry point (cli.main.main), on files and directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from containerguard.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data" / "misconfig"


def test_directory_json_report_and_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    shutil.copytree(DATA, proj)
    (proj / "deploy" / "nested").mkdir(parents=True)
    shutil.copy(DATA / "k8s" / "pss-all.yaml", proj / "deploy" / "nested" / "pod.yml")
    (proj / "README.md").write_text("not a config file\n")
    code = main(["config", str(proj), "--format", "json", "--fail-on", "critical"])
    cap = capsys.readouterr()
    assert code == 1
    doc = json.loads(cap.out)
    text = json.dumps(doc)
    for cid in ("CG-DF-001", "CG-DF-004", "CG-K8S-005", "CG-K8S-010", "CG-K8S-013", "CG-K8S-026"):
        assert cid in text
    assert "hunter2hunter2" not in text
    assert "nested/pod.yml" in text
    assert "YAML bomb" in cap.err and "1 skipped" in cap.err


def test_clean_inputs_pass_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", str(DATA / "k8s" / "hardened.yaml"), str(DATA / "dockerfiles" / "good.Dockerfile"),
                 "--fail-on", "low"])
    out = capsys.readouterr()
    assert code == 0, out.out


def test_sarif_output_has_line_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.sarif"
    assert main(["config", str(DATA / "dockerfiles" / "bad.Dockerfile"), "--format", "sarif", "-o", str(out)]) == 0
    sarif = json.loads(out.read_text())
    results = sarif["runs"][0]["results"]
    lines = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results}
    assert ("CG-DF-001", 22) in lines and ("CG-DF-004", 11) in lines


def test_table_output_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", str(DATA / "k8s" / "helm-rendered.yaml")]) == 0
    out = capsys.readouterr().out
    assert "CG-K8S-005" in out and "Privileged container" in out
    assert main(["config", str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\n")
    assert main(["config", str(odd)]) == 2
    assert main(["config", str(DATA / "k8s" / "hardened.yaml"), "--fail-on", "bogus"]) == 2


def test_dockerfile_detected_by_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "build.txt"
    f.write_text("# comment\nFROM ubuntu:latest\nRUN sudo true\n")
    assert main(["config", str(f), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "CG-DF-007" in out and "CG-DF-008" in out


def test_helm_output_on_stdin() -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("containerguard")
    out = subprocess.run([str(exe), "config", "-", "--format", "json", "--fail-on", "critical"],
                         input=(DATA / "k8s" / "helm-rendered.yaml").read_text(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["target"] == "<stdin>"
    assert any(f["id"] == "CG-K8S-005" for f in doc["findings"])
    assert "4 Kubernetes objects" in out.stderr
