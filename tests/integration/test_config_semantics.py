"""Misconfiguration semantics where peers (hadolint, Checkov) and we disagreed: `COPY --from=<index>`,
ARG values built from other ARGs, pod templates under other kinds, kustomize patch fragments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main


def _findings(capsys: pytest.CaptureFixture[str], path: Path) -> list[dict]:
    capsys.readouterr()
    assert main(["config", str(path), "-f", "json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)["findings"]


def test_copy_from_index_and_arg_chains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text(
        "ARG REGISTRY=registry.example.com\nARG OWNER=acme\nARG VERSION=1.2.3\n"
        "ARG BASE=$REGISTRY/$OWNER/img:${VERSION}\n"
        "FROM $BASE AS build\nRUN make\n"
        "FROM alpine:3.19\nCOPY --from=0 /out /out\nCOPY --from=build /out /out2\nCOPY --from=2 /x /x\n"
        "COPY --from=1 /y /y\nUSER 1000\nHEALTHCHECK NONE\n")
    got = {(f["id"], f["line"]) for f in _findings(capsys, df)}
    # FROM $BASE resolves to registry.example.com/acme/img:1.2.3: a pinned tag, no "latest"/untagged finding
    assert not {i for i, line in got if line == 5} & {"CG-DF-006", "CG-DF-007"}
    assert ("CG-DF-021", 8) not in got and ("CG-DF-021", 9) not in got  # stage 0 by index and by name
    assert ("CG-DF-021", 10) in got  # there is no stage 2 before this one
    assert ("CG-DF-022", 11) in got  # stage 1 is this stage


def test_pod_templates_under_other_kinds_and_patch_fragments(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "workloads.yaml").write_text("""\
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: dc}
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
        securityContext: {privileged: true}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ro}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - {name: app, image: "app:1"}
""")
    (tmp_path / "patch.yaml").write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: web
        resources: {limits: {cpu: "1"}}
""")
    found = _findings(capsys, tmp_path)
    by_obj = {(f["extra"]["kind"], f["extra"]["name"], f["id"]) for f in found}
    assert ("DeploymentConfig", "dc", "CG-K8S-005") in by_obj  # privileged container
    assert ("Rollout", "ro", "CG-K8S-002") in by_obj  # hostNetwork
    assert not [f for f in found if f["extra"]["name"] == "web"]  # the patch fragment: no check at all
