"""Hostile policy files and inputs through the `containerguard policy` commands: each is one line naming the file
and line (exit 2), or is read as the component that would run it reads it -- never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main

POLICY = ("id: ACME-1\nname: n\ndescription: d\nseverity: high\ncondition: container.privileged\n"
          "enforcement: {deploy: deny}\n")


@pytest.mark.parametrize(("text", "line", "fragment"), [
    (POLICY + "condition: 'false'\n", 7, "duplicate key 'condition' (first at line 5)"),
    ("{id: ACME-1, name: n, description: d, severity: high, condition: 'true', enforcement: {deploy: deny}, id: X-2}\n",
     1, "duplicate key 'id'"),
    ("policies:\n- " + POLICY.replace("\n", "\n  ").rstrip() + "\n  scope: {namespaces: [a], namespaces: [b]}\n", 8,
     "duplicate key 'namespaces'"),
    ("defaults: 'false'\npolicies: []\n", 1, "defaults: expected true or false, not 'false'"),
    ("defaults: 0\npolicies: []\n", 1, "defaults: expected true or false, not 0"),
])
def test_policy_file_repeats_and_wrong_types_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                        line: int, fragment: str) -> None:
    """A repeated key silently replaced the first (a second 'condition: false' disarmed a deny policy); a
    'defaults' that is no bool silently kept the defaults."""
    f = tmp_path / "p.yaml"
    f.write_text(text)
    assert main(["policy", "validate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {f}:{line}: ") and fragment in err and "\n" not in err, err


def test_policy_test_file_repeated_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "p_test.yaml").write_text(
        "tests:\n  - name: t\n    stage: deploy\n    input: {container: {privileged: true}}\n"
        "    expect: {violated: [ACME-1]}\n    expect: {passed: [ACME-1]}\n")
    assert main(["policy", "test", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert ":6: duplicate key 'expect' (first at line 5)" in err and "\n" not in err


def _denied(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str) -> set[str]:
    f = tmp_path / name
    f.write_text(text)
    rc = main(["policy", "eval", str(f), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    denied = {v["policy"] for v in out["violations"] if v["action"] == "deny"}
    assert rc == (1 if denied else 0)
    return denied


PRIV = "containers: [{name: c, image: 'a:1', securityContext: {privileged: true}}]"


@pytest.mark.parametrize(("text", "expect"), [
    # a list of any kind (kubectl get -o yaml gives List; the API gives PodList, DeploymentList, ...)
    (f"apiVersion: v1\nkind: PodList\nitems: [{{apiVersion: v1, kind: Pod, metadata: {{name: p}}, spec: {{{PRIV}}}}}]\n",
     {"CG-DEP-001", "CG-DEP-007"}),
    # a kind with a pod template of its own (Argo Rollout, OpenShift DeploymentConfig)
    (f"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: r}}\nspec: {{template: {{spec: {{{PRIV}}}}}}}\n",
     {"CG-DEP-001", "CG-DEP-007"}),
    # a lone string where the API wants a list still names the capability
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'a:1', securityContext: "
     "{capabilities: {add: SYS_ADMIN}}}]}\n", {"CG-DEP-006", "CG-DEP-007"}),
    # anchors and merge keys (Helm and kustomize output use them)
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: 'a:1', "
     "securityContext: &sc {privileged: true}}\n  - {name: d, image: 'a:1', securityContext: {<<: *sc}}\n",
     {"CG-DEP-001", "CG-DEP-007"}),
])
def test_manifest_shapes_are_evaluated(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                       expect: set[str]) -> None:
    assert _denied(tmp_path, capsys, "m.yaml", text) == expect


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: 2024-02-30}\nspec: {" + PRIV + "}\n", 3,
     "invalid value '2024-02-30'"),
])
def test_manifest_errors_are_one_line_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                    line: int, fragment: str) -> None:
    """An impossible date was an internal error (exit 3)."""
    f = tmp_path / "m.yaml"
    f.write_text(text)
    assert main(["policy", "eval", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {f}:{line}: ") and fragment in err and "\n" not in err, err


@pytest.mark.parametrize("body", [
    {"Image": "a:1", "hostconfig": {"privileged": True}},
    {"image": "a:1", "HOSTCONFIG": {"PRIVILEGED": True}},
    {"Image": "a:1", "Privileged": True},
    {"Image": "a:1", "HostConfig": None, "privileged": True},
    {"Image": "a:1", "Ho\u017ftConfig": {"Privileged": True}},
])
def test_docker_create_bodies_read_as_dockerd_reads_them(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         body: dict[str, object]) -> None:
    assert "CG-DEP-001" in _denied(tmp_path, capsys, "create.json", json.dumps(body))


@pytest.mark.parametrize(("body", "expect"), [
    ({"Image": "a:1", "HostConfig": {"CapAdd": "SYS_ADMIN"}}, {"CG-DEP-006", "CG-DEP-007"}),
    ({"Image": "a:1", "HostConfig": {"capdrop": "ALL", "capadd": ["sys_ptrace"]}}, {"CG-DEP-006"}),
    ({"Image": "a:1", "HostConfig": {"PidMode": "host"}, "User": "\u00b2"}, {"CG-DEP-002"}),
    ({"Image": "a:1", "HostConfig": {"Binds": "/var/run/docker.sock:/var/run/docker.sock"}}, set()),  # dockerd refuses
    ({"Image": "a:1", "User": "1000", "Env": "A=B", "Cmd": "sh", "HostConfig": {"Memory": 1 << 26}}, set()),
])
def test_docker_create_field_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: dict[str, object],
                                    expect: set[str]) -> None:
    """StrSlice fields (CapAdd, CapDrop, Cmd) take a lone string; a User of non-ASCII digits was an internal error."""
    assert _denied(tmp_path, capsys, "create.json", json.dumps(body)) == expect


@pytest.mark.parametrize(("field", "expr"), [
    ("condition", "1" + "+1" * 20000 + " > 0"),  # compiled, then a stack overflow at evaluation
    ("condition", "container" + ".env" * 20000 + " == ''"),  # a stack overflow in the compiler itself
    ("details", "[container.name" + "+''" * 20000 + "]"),
])
def test_expression_too_deep_for_the_cel_library_is_refused_not_a_crash(tmp_path: Path, field: str, expr: str) -> None:
    """The CEL library recurses natively once per syntax-tree level: these killed `policy validate` (and any
    enforcement point or server loading the file) with SIGSEGV. Run in a child process: a crash is a crash."""
    import subprocess
    import sys

    policy = {"id": "ACME-DEEP", "name": "n", "description": "d", "severity": "low", "condition": "true",
              "enforcement": {"deploy": "deny"}, field: expr}
    f = tmp_path / "deep.yaml"
    f.write_text(json.dumps(policy))  # JSON is YAML
    doc = tmp_path / "pod.json"
    doc.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                               "spec": {"containers": [{"name": "c", "image": "a:1"}]}}))
    cli = str(Path(sys.executable).with_name("containerguard"))
    for args in (["policy", "validate", str(f)], ["policy", "eval", str(doc), "--policy", str(f)]):
        r = subprocess.run([cli, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (r.returncode, r.stderr[-500:])
        assert f"{f}:1: policy ACME-DEEP: {field}: the expression is" in r.stderr and "more than the 16384" in r.stderr
    # the limit leaves room for real expressions: a long one under it loads and evaluates
    ok = {**policy, field: ("1" + "+1" * 5000 + " > 0") if field == "condition" else "[container.name]"}
    f.write_text(json.dumps(ok))
    r = subprocess.run([cli, "policy", "eval", str(doc), "--policy", str(f), "--format", "json"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "ACME-DEEP" in r.stdout, r.stderr[-500:]


LIST_200 = "[" + ", ".join(str(i) for i in range(200)) + "]"


@pytest.mark.parametrize("condition", [
    f"{LIST_200}.map(a, {LIST_200}.map(b, {LIST_200}.map(c, a + b + c))).size() > 0",  # minutes, GIL held
    "findings.exists(a, packages.exists(b, findings.exists(c, a.id == c.id && b.name == '')))",
    f"container.env.exists(k, {LIST_200}.exists(i, {LIST_200}.exists(j, i == j)))",
    "params.big.exists(x, params.big.exists(y, x == y))",
])
def test_comprehensions_too_costly_are_refused_at_load(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       condition: str) -> None:
    """Nested comprehensions multiply: the library evaluates holding the GIL with no cost limit, so the first
    condition stalled `policy eval`, the webhook or the authz plugin (and dockerd waiting on it) for minutes."""
    f = tmp_path / "costly.yaml"
    f.write_text(json.dumps({"id": "ACME-COST", "name": "n", "description": "d", "severity": "low",
                             "condition": condition, "params": {"big": list(range(500))},
                             "enforcement": {"deploy": "deny"}}))
    assert main(["policy", "validate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {f}:1: policy ACME-COST: condition: its nested comprehensions are estimated at ")
    assert "more than the 100,000 allowed" in err and "\n" not in err


@pytest.mark.parametrize("condition", [
    "findings.exists(f, packages.exists(p, p.name == f.package.name))",  # two input lists: 10,000
    f"container.mounts.exists(m, {LIST_200}.exists(i, string(i) == m.source))",
    "'a.map(x, [1,2].map(y, [3].map(z, 1)))'.size() > 0 && container.env.all(k, k != '')",  # text in a string
    "params.big.exists(x, x == 3)",
])
def test_comprehensions_within_the_budget_load(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               condition: str) -> None:
    f = tmp_path / "fine.yaml"
    f.write_text(json.dumps({"id": "ACME-FINE", "name": "n", "description": "d", "severity": "low",
                             "condition": condition, "params": {"big": list(range(500))},
                             "enforcement": {"deploy": "deny"}}))
    assert main(["policy", "validate", str(f)]) == 0, capsys.readouterr().err
