"""Kubernetes manifest checks on manifests written for the purpose (tests/data/misconfig/k8s)."""

from __future__ import annotations

import time
from pathlib import Path

from containerguard.misconfig.catalog import catalog
from containerguard.misconfig.kubernetes import iter_pss_controls, scan_manifest, scan_yaml_text

DATA = Path(__file__).resolve().parents[2] / "data" / "misconfig" / "k8s"


def test_every_pss_control_is_detected_with_path_and_line() -> None:
    r = scan_manifest(DATA / "pss-all.yaml")
    got = {f.id for f in r.findings}
    pss_ids = {cid for cid, _ in iter_pss_controls()}
    assert len(pss_ids) == 20
    assert pss_ids <= got, sorted(pss_ids - got)
    by_field = {(f.id, f.extra["field"]): f.line for f in r.findings}
    assert by_field[("CG-K8S-005", "spec.containers[0].securityContext.privileged")] == 30
    assert by_field[("CG-K8S-011", "spec.containers[0].securityContext.procMount")] == 31
    assert by_field[("CG-K8S-013", "spec.securityContext.sysctls[0]")] == 17
    assert by_field[("CG-K8S-010", "spec.securityContext.seLinuxOptions.user")] == 14
    assert by_field[("CG-K8S-017", "spec.initContainers[0].securityContext.runAsUser")] == 23
    assert ("CG-K8S-018", "spec.ephemeralContainers[0].securityContext.seccompProfile.type") in by_field
    # the safe sysctl and the emptyDir volume are not reported
    assert ("CG-K8S-013", "spec.securityContext.sysctls[1]") not in by_field
    assert not any(f.extra["field"] == "spec.volumes[2].emptyDir" for f in r.findings)
    caps = sorted(f.extra["message"].rsplit("(", 1)[1].rstrip(")") for f in r.findings if f.id == "CG-K8S-006")
    assert caps == ["NET_RAW", "SYS_ADMIN"]


def test_hardened_deployment_is_clean() -> None:
    r = scan_manifest(DATA / "hardened.yaml")
    assert (r.objects, r.findings, r.warnings) == (1, [], [])


def test_helm_output_lists_cronjob_and_rbac() -> None:
    r = scan_manifest(DATA / "helm-rendered.yaml")
    assert r.objects == 4  # ServiceAccount, DaemonSet, ClusterRole and CronJob inside a List
    ds = [f for f in r.findings if f.extra["kind"] == "DaemonSet"]
    assert {f.extra["source"] for f in ds} == {"demo/templates/daemonset.yaml"}
    assert {"CG-K8S-002", "CG-K8S-003", "CG-K8S-005", "CG-K8S-007", "CG-K8S-023"} <= {f.id for f in ds}
    rbac = sorted((f.line, f.extra["field"]) for f in r.findings if f.id == "CG-K8S-026")
    assert rbac == [(43, "rules[0].apiGroups"), (44, "rules[0].resources"), (45, "rules[0].verbs")]
    cron = {f.id: f for f in r.findings if f.extra["kind"] == "CronJob"}
    assert cron["CG-K8S-017"].extra["field"] == "spec.jobTemplate.spec.template.spec.containers[0].securityContext.runAsUser"
    assert cron["CG-K8S-017"].line == 61


def test_every_workload_kind_is_checked() -> None:
    specs = {
        "Pod": "spec: {containers: [{name: c, image: x:1, securityContext: {privileged: true}}]}",
        "PodTemplate": "template: {spec: {containers: [{name: c, image: x:1, securityContext: {privileged: true}}]}}",
    }
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"):
        specs[kind] = "spec: {template: {spec: {containers: [{name: c, image: x:1, securityContext: {privileged: true}}]}}}"
    specs["CronJob"] = ("spec: {jobTemplate: {spec: {template: {spec: {containers: "
                        "[{name: c, image: x:1, securityContext: {privileged: true}}]}}}}}")
    text = "\n---\n".join(f"apiVersion: v1\nkind: {k}\nmetadata: {{name: n}}\n{v}" for k, v in specs.items())
    r = scan_yaml_text(text)
    assert {f.extra["kind"] for f in r.findings if f.id == "CG-K8S-005"} == set(specs)


def test_yaml_bomb_is_refused_quickly() -> None:
    t0 = time.monotonic()
    r = scan_manifest(DATA / "bomb.yaml")
    assert time.monotonic() - t0 < 2
    assert r.skipped == 1 and "YAML bomb" in r.warnings[0]


def test_hostile_inputs_are_skipped_with_a_counted_warning(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("apiVersion: v1\nkind: Pod\nspec: " + "[" * 5000 + "]" * 5000 + "\n")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"apiVersion: v1\x00\x01\x02kind: Pod")
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a\n")
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:
        fh.seek(17 * 1024 * 1024)
        fh.write(b"\n")
    recursive = tmp_path / "rec.yaml"
    recursive.write_text("apiVersion: v1\nkind: Pod\nspec: &a\n  x: *a\n")
    for p in (deep, binary, broken, huge):
        r = scan_manifest(p)
        assert r.skipped == 1 and len(r.warnings) == 1, (p.name, r.warnings)
        assert str(p) in r.warnings[0]
    r = scan_manifest(recursive)  # a recursive alias: refused or harmless, never a hang
    assert r.skipped in (0, 1)


def test_catalog_metadata_is_complete() -> None:
    cat = catalog()
    k8s = [m for m in cat.values() if m.id.startswith("CG-K8S-")]
    assert len(k8s) >= 27
    for m in cat.values():
        assert m.title and m.description and m.remediation
