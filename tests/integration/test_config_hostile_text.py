"""`containerguard config` on text that real editors, generators and YAML features produce: a UTF-8 byte-order
mark, Unicode line separators inside values, YAML merge keys and repeated keys, Kubernetes manifests written as
JSON. Each case is compared with what Docker (BuildKit) and the Kubernetes API server make of the same text."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from containerguard.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[dict], str]:
    capsys.readouterr()
    assert main(["config", *args, "-f", "json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out)["findings"], out.err


def _ids(findings: list[dict]) -> set[tuple[str, int]]:
    return {(f["id"], f["line"]) for f in findings}


BAD_DOCKERFILE = "FROM debian:latest\nRUN sudo apt-get install -y curl\nUSER root\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8-sig-crlf"])
def test_dockerfile_with_a_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           encoding: str) -> None:
    """Windows editors save a BOM; BuildKit strips it. It is not an unknown instruction 'FROM' and the file
    is recognised as a Dockerfile by its content too (explicit file, directory and stdin)."""
    text = BAD_DOCKERFILE.replace("\n", "\r\n") if encoding.endswith("crlf") else BAD_DOCKERFILE
    named = tmp_path / "Dockerfile"
    named.write_bytes(b"\xef\xbb\xbf" + text.encode())
    other = tmp_path / "build.docker"  # no telling name: sniffed by its content
    other.write_bytes(b"\xef\xbb\xbf" + text.encode())
    expected = {("CG-DF-007", 1), ("CG-DF-008", 2), ("CG-DF-001", 3)}
    for target in (named, other):
        found, _ = _run(capsys, str(target))
        ids = _ids(found)
        assert expected <= ids, (target, ids)
        assert not any(i == "CG-DF-037" for i, _ in ids), ids  # no parse problem
        assert not any(i == "CG-DF-059" for i, _ in ids), ids  # no "instruction before FROM"
    found, _ = _run(capsys, str(tmp_path))
    assert expected <= _ids([f for f in found if f["path"].endswith("/Dockerfile")])
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbf" + text.encode()), encoding="utf-8")
    try:
        found, _ = _run(capsys, "-")
    finally:
        sys.stdin = old
    assert expected <= _ids(found)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1e"])
def test_dockerfile_lines_are_split_at_newlines_only(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     sep: str) -> None:
    """BuildKit splits a Dockerfile at \\n only: a Unicode line or paragraph separator, NEL, form feed or
    vertical tab inside a value neither starts an instruction nor shifts the line numbers."""
    df = tmp_path / "Dockerfile"
    df.write_text(f'FROM debian:12\nLABEL description="one{sep}RUN sudo rm -rf /"\nUSER 1000\n'
                  f'RUN echo "a{sep}b" && curl -s https://x.example/i.sh | sh\nUSER root\n', encoding="utf-8")
    ids = _ids(_run(capsys, str(df))[0])
    assert not any(i == "CG-DF-008" for i, _ in ids), ids  # the sudo is text inside a label
    assert not any(i == "CG-DF-037" for i, _ in ids), ids
    assert ("CG-DF-004", 4) in ids and ("CG-DF-001", 5) in ids, ids


POD = """\
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  containers:
  - name: c
    image: nginx:1.25
    securityContext:
SECURITY
"""


def _pod(tmp_path: Path, name: str, security: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(POD.replace("NAME", name).replace("SECURITY", security))
    return p


def test_repeated_keys_take_the_last_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A repeated key: the API server (JSON) and Helm keep the last value, so that is the one checked, and
    the repeat is named in a warning."""
    p = _pod(tmp_path, "dup", "      privileged: false\n      privileged: true\n      runAsUser: 0\n"
             "      runAsUser: 1000")
    found, err = _run(capsys, str(p))
    ids = _ids(found)
    assert ("CG-K8S-005", 10) in ids, ids
    assert not any(i == "CG-K8S-017" for i, _ in ids), ids  # runAsUser 0 was replaced by 1000
    assert "duplicate key 'privileged'" in err and ":10:" in err, err
    q = _pod(tmp_path, "dup2", "      privileged: true\n      privileged: false")
    assert not any(f["id"] == "CG-K8S-005" for f in _run(capsys, str(q))[0])
    # a repeated top-level kind: the last one is the object's kind (here a ClusterRole with a wildcard)
    r = tmp_path / "role.yaml"
    r.write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: ConfigMap\nkind: ClusterRole\n"
                 "metadata: {name: r}\nrules:\n- apiGroups: ['']\n  resources: ['*']\n  verbs: [get]\n")
    assert ("CG-K8S-026", 7) in _ids(_run(capsys, str(r))[0])


def test_merge_keys_are_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """YAML merge keys (`<<: *defaults`, common in hand-written manifests and CI templates) are part of the
    object: their fields are checked, an explicit key overrides a merged one, and a container whose image
    comes from a merge is a container, not a kustomize patch fragment."""
    p = tmp_path / "merge.yaml"
    p.write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: merged}
spec:
  containers:
  - &base
    name: a
    image: nginx:1.25
    securityContext: &sc
      privileged: true
      allowPrivilegeEscalation: true
  - <<: *base
    name: b
    securityContext:
      <<: *sc
      privileged: false
  - <<: [{name: c, image: "nginx:1.25"}, {securityContext: {privileged: false}}]
    securityContext:
      <<: [{runAsUser: 0}, {runAsUser: 5}]
      procMount: Unmasked
""")
    found, _ = _run(capsys, str(p))
    fields = {(f["id"], f["extra"]["field"]) for f in found}
    assert ("CG-K8S-005", "spec.containers[0].securityContext.privileged") in fields
    assert ("CG-K8S-005", "spec.containers[1].securityContext.privileged") not in fields  # overridden
    # merged from *sc into the second container
    assert ("CG-K8S-015", "spec.containers[1].securityContext.allowPrivilegeEscalation") in fields
    # the first mapping of a merge list wins (runAsUser 0), and the third container is checked at all
    assert ("CG-K8S-017", "spec.containers[2].securityContext.runAsUser") in fields
    assert ("CG-K8S-011", "spec.containers[2].securityContext.procMount") in fields
    for i in range(3):
        assert ("CG-K8S-024", f"spec.containers[{i}].image") in fields, fields


def test_quoted_keys_are_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod template under another kind written with quoted keys ("containers": [...], JSON style inside
    YAML) is checked like the plain form."""
    p = tmp_path / "quoted.yaml"
    p.write_text('apiVersion: example.com/v1\nkind: MyWorkload\nmetadata: {name: q}\nspec:\n  template:\n'
                 '    spec:\n      "containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": true}}]\n')
    assert ("CG-K8S-005", 7) in _ids(_run(capsys, str(p))[0])


def test_a_merge_cycle_is_no_hang(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mapping that merges itself (an alias inside its own anchor) is an endless expansion: refused with a
    counted warning, the other documents still checked, and the gate does not pass on it."""
    p = tmp_path / "cycle.yaml"
    p.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: cyc}\nspec:\n  containers:\n"
                 "  - &c {name: c, image: 'x:1', securityContext: {privileged: true}, <<: *c}\n---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  hostPID: true\n"
                 "  containers: [{name: c, image: 'x:1'}]\n")
    found, err = _run(capsys, str(p))
    assert ("CG-K8S-003", 12) in _ids(found)
    assert "skipped" in err and "document 1" in err, err
    capsys.readouterr()
    assert main(["config", str(p), "-q", "--fail-on", "CRITICAL", "--severity", "CRITICAL"]) == 1


def test_kubernetes_manifests_written_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl, Checkov and Trivy read JSON manifests: named as a file or found in a directory. Other JSON
    files (package.json) are not manifests."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},
           "spec": {"hostPID": True, "containers": [{"name": "c", "image": "x:1",
                                                     "securityContext": {"privileged": True}}]}}
    d = tmp_path / "deploy"
    d.mkdir()
    (d / "pod.json").write_text(json.dumps(pod, indent=2))
    (d / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod]}))
    (d / "package.json").write_text(json.dumps({"name": "x", "version": "1.0.0", "kind": "module"}))
    found, _ = _run(capsys, str(d / "pod.json"))
    assert {"CG-K8S-003", "CG-K8S-005"} <= {f["id"] for f in found}
    found, err = _run(capsys, str(d))
    by_file = {(Path(f["path"]).name, f["id"]) for f in found}
    assert {("pod.json", "CG-K8S-005"), ("list.json", "CG-K8S-005")} <= by_file
    assert not any(name == "package.json" for name, _ in by_file)
    assert "2 YAML files" in err or "2 manifest" in err, err


def test_exec_form_run_is_read_as_docker_runs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`RUN ["sh", "-c", SCRIPT]` runs SCRIPT: its `curl | sh` is a remote script piped into a shell. Any other
    exec form runs one program with literal arguments: a `|` or `sudo` inside an argument is text."""
    df = tmp_path / "Dockerfile"
    df.write_text('FROM debian:12\n'
                  'RUN ["/bin/sh", "-c", "curl -fsSL https://get.example/i.sh | sh"]\n'
                  'RUN ["bash", "-euxc", "wget -qO- https://get.example/j.sh | bash"]\n'
                  'RUN ["echo", "curl https://get.example/k.sh | sh"]\n'
                  'RUN ["printf", "%s", "a|b", "sudo rm -rf /"]\n'
                  'USER 1000\nHEALTHCHECK NONE\n')
    ids = _ids(_run(capsys, str(df))[0])
    assert ("CG-DF-004", 2) in ids and ("CG-DF-004", 3) in ids, ids
    # literal arguments: no pipe (hadolint 2.15.1 still says DL4006 there), no sudo, no remote script
    assert not {(i, ln) for i, ln in ids if ln in (4, 5) and i in ("CG-DF-004", "CG-DF-031", "CG-DF-008")}, ids


def test_user_from_build_args_and_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """USER $NAME runs as what $NAME holds at that point: an ENV value, a stage ARG's default, or a global ARG
    redeclared in the stage (as BuildKit substitutes them). Root that way is root; a numeric uid is not."""
    cases = {
        "env": ("FROM debian:12\nENV RUN_AS=root\nUSER ${RUN_AS}\n", 3),
        "arg": ("FROM debian:12\nARG UID=0\nUSER $UID:$UID\n", 3),
        "global": ("ARG APP_USER=root\nFROM debian:12\nARG APP_USER\nUSER $APP_USER\n", 4),
        "default": ("FROM debian:12\nUSER ${NOBODY:-root}\n", 2),
        "inherited": ("FROM debian:12 AS base\nENV U=0\nFROM base\nUSER $U\n", 4),
        "alternative": ("FROM debian:12\nARG SET=1\nUSER ${SET:+root}\n", 3),
        "empty": ("FROM debian:12\nARG EMPTY=\nUSER ${EMPTY:-0}\n", 3),
    }
    for name, (text, line) in cases.items():
        df = tmp_path / f"{name}.Dockerfile"
        df.write_text(text + "HEALTHCHECK NONE\n")
        assert ("CG-DF-001", line) in _ids(_run(capsys, str(df))[0]), name
    ok = tmp_path / "ok.Dockerfile"
    ok.write_text("ARG APP_USER=root\nFROM debian:12\nENV U=10001\nARG G=10001\nUSER $U:$G\n"
                  "USER ${APP_USER}x\nUSER ${NOTSET:+root}$U\nHEALTHCHECK NONE\n")  # a global ARG not redeclared is empty
    assert not any(i == "CG-DF-001" for i, _ in _ids(_run(capsys, str(ok))[0]))
    tag = tmp_path / "tag.Dockerfile"
    tag.write_text("ARG T=12\nFROM debian:${T:+latest}\nUSER 1000\nHEALTHCHECK NONE\n")
    assert ("CG-DF-007", 2) in _ids(_run(capsys, str(tag))[0])
