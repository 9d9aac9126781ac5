"""`containerguard policy test/eval/validate` through the CLI; every default policy has a failing and a passing fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from containerguard.cli.main import main
from containerguard.policy import load_policies

DATA = Path(__file__).resolve().parents[2] / "data" / "policy"


def test_every_default_policy_has_a_failing_and_a_passing_fixture() -> None:
    cases = []
    for f in DATA.rglob("*_test.yaml"):
        cases += yaml.safe_load(f.read_text())["tests"]
    violated = {p for c in cases for p in c["expect"].get("violated", [])}
    passed = {p for c in cases for p in c["expect"].get("passed", [])}
    ids = {p.id for p in load_policies().policies}
    assert ids - violated == set()
    assert ids - passed == set()


def test_policy_test_runs_the_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(DATA / "defaults"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] == 0 and out["passed"] >= 50
    assert main(["policy", "test", str(DATA / "registries"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] == 2


def test_policy_test_reports_a_wrong_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x_test.yaml").write_text(
        "tests:\n  - name: wrong\n    stage: deploy\n    input: {container: {privileged: false}}\n"
        "    expect: {violated: [CG-DEP-001]}\n")
    assert main(["policy", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "x_test.yaml:2 wrong" in out and "expected CG-DEP-001 to be violated, it passed" in out


def test_policy_eval_explains_a_kubernetes_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"containers": [{"name": "c", "image": "a:1", "securityContext": {"privileged": True}}]}}
    f = tmp_path / "pod.json"
    f.write_text(json.dumps(pod))
    assert main(["policy", "eval", "--input", str(f), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["allowed"] is False and out["stage"] == "deploy"
    v = next(v for v in out["violations"] if v["policy"] == "CG-DEP-001")
    assert v["subject"] == "Pod ns/p container c" and v["action"] == "deny" and "privileged" in v["remediation"]
    assert main(["policy", "eval", "--input", str(f)]) == 1
    text = capsys.readouterr().out
    assert "DENY CG-DEP-001 privileged-container" in text and "fix:" in text and "blocked" in text


def test_policy_eval_document_and_markup_is_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "doc.yaml"
    f.write_text("stage: build\nimage: {known: true, user: '[bold]root[/bold]', env: {'[red]X_TOKEN': v}}\n")
    assert main(["policy", "eval", "--input", str(f)]) == 0
    out = capsys.readouterr().out
    assert "[red]X_TOKEN" in out and "on input" in out


def test_policy_validate_malformed_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("id: A1\nname: n\ndescription: d\nseverity: low\ncondition: 'image.tag =='\n"
                                       "enforcement: {build: warn}\n")
    assert main(["policy", "validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'bad.yaml'}:5: policy A1: condition:") and "\n" not in err


def test_policy_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "list", "--format", "json", "--policy", str(DATA / "registries")]) == 0
    listed = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["CG-REF-003"]["enforcement"] == {"build": "fail-build", "deploy": "deny"}
    assert listed["CG-DEP-001"]["enforcement"] == {"deploy": "deny"}


def test_policy_eval_takes_files_as_arguments_and_multi_document_manifests(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: web}\nspec:\n  template:\n"
        "    spec:\n      hostNetwork: true\n      containers: [{name: c, image: 'a:1'}]\n")
    assert main(["policy", "eval", str(tmp_path / "app.yaml"), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [v["subject"] for v in out["violations"] if v["action"] == "deny"] == ["Deployment web/d container c"]
    assert main(["policy", "eval", "--format", "json"]) == 2
