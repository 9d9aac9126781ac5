"""Checkov (the PEER, run in-process through its Kubernetes runner) and our manifest checks on the same files.

1. On the real corpus (../shared/corpora/k8s, 1,305 files): for each Checkov check that tests the same
   control as one of ours (bench/misconfig_peers.CHECKOV_TO_OURS), the objects each tool fails must be
   the same, except for these documented differences (docs/checks.md):
   * kustomize patch fragments: an object with no containers, or a container with no ``image``, is not
     a workload; Checkov fails checks on them, we run none of ours on them (every check the same way);
     an image reference with an unrendered ``{placeholder}`` Checkov misparses;
   * CKV_K8S_31 accepts only a pod-level seccomp profile; PSS (and we) accept container-level ones;
   * CKV_K8S_49 only looks at the first rule of a Role; we report wildcards in every rule.
2. Pod Security Standards coverage: one hardened Deployment, and one copy per PSS control that breaks
   only that control. We flag every control; Checkov's result is printed, and the controls the issue
   says it misses (SELinux, /proc mount, sysctls, volume types) are asserted to be invisible to it.
"""

from __future__ import annotations

import collections
import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from containerguard.misconfig.kubernetes import scan_manifest, scan_manifests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.misconfig_peers import CHECKOV_TO_OURS, run_checkov  # noqa: E402
from tests.fixtures import env  # noqa: E402

CORPUS = env.CORPORA / "k8s"
HARDENED = ROOT / "tests" / "data" / "misconfig" / "k8s" / "hardened.yaml"

Key = tuple[str, str, str, str]


def _objects(path: str) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    try:
        docs = list(yaml.safe_load_all(Path(path).read_text()))
    except yaml.YAMLError:
        return out
    for d in docs:
        if isinstance(d, dict) and d.get("kind"):
            md = d.get("metadata") or {}
            out[(path, d["kind"], md.get("namespace") or "default", md.get("name") or md.get("generateName") or "")] = d
    return out


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    s = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        s = ((s.get("jobTemplate") or {}).get("spec") or {})
    if obj["kind"] != "Pod":
        s = ((s.get("template") or {}).get("spec") or {})
    return s if isinstance(s, dict) else {}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(obj)
    return [c for f in ("initContainers", "containers") for c in (spec.get(f) or []) if isinstance(c, dict)]


def _documented(check: str, key: Key, only_checkov: bool, fields: set[str]) -> bool:
    obj = _objects(key[0]).get(key)
    if obj is None:
        return True  # object naming differs (Checkov names unnamed objects after a label)
    if only_checkov and (not _containers(obj) or any("image" not in c for c in _containers(obj))):
        return True  # a kustomize patch (no containers, or one without image) is not a workload: no check runs
    if check in ("CKV_K8S_14", "CKV_K8S_43") and only_checkov:
        # no image (patch fragment), or an unrendered template placeholder Checkov misparses
        return any("image" not in c or "{" in str(c["image"]) for c in _containers(obj))
    if check == "CKV_K8S_31" and only_checkov:
        cs = _containers(obj)
        return bool(cs) and all((c.get("securityContext") or {}).get("seccompProfile") for c in cs)
    if check == "CKV_K8S_49" and not only_checkov:
        return not any(f.startswith("rules[0].") for f in fields)
    return False


@pytest.mark.slow
def test_agreement_with_checkov_on_the_corpus() -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml"))
    assert len(files) > 1000, f"corpus missing: {CORPUS}"
    ours = scan_manifests(files)
    # no file failed; two real manifests repeat a key (kubernetes/examples' etcd controllers: `selector`
    # twice), which is named in a warning, and the object is still checked
    problems = [w for w in ours.warnings if "duplicate key" not in w]
    assert not problems, problems[:3]
    mine: dict[str, set[Key]] = collections.defaultdict(set)
    fields: dict[tuple[str, Key], set[str]] = collections.defaultdict(set)
    for f in ours.findings:
        k = (f.path, f.extra["kind"], f.extra["namespace"] or "default", f.extra["name"])
        mine[f.id].add(k)
        fields[(f.id, k)].add(f.extra["field"])
    theirs: dict[str, set[Key]] = collections.defaultdict(set)
    evaluated: dict[str, set[Key]] = collections.defaultdict(set)
    for r in run_checkov(files):
        if r.check_id in CHECKOV_TO_OURS:
            k = (r.file, r.kind, r.namespace or "default", r.name)
            evaluated[r.check_id].add(k)
            if not r.passed:
                theirs[r.check_id].add(k)
    rows, bad = [], []
    for ck, cid in sorted(CHECKOV_TO_OURS.items()):
        c, o = theirs[ck], mine[cid] & evaluated[ck]
        only_c = [k for k in c - o if not _documented(ck, k, True, set())]
        only_o = [k for k in o - c if not _documented(ck, k, False, fields[(cid, k)])]
        rows.append(f"{ck:11} {cid:11} objects={len(evaluated[ck]):4} checkov={len(c):4} ours={len(o):4} "
                    f"both={len(c & o):4} documented={len(c ^ o) - len(only_c) - len(only_o):3} "
                    f"disagree={len(only_c) + len(only_o)}")
        bad += [f"{ck} only Checkov: {k}" for k in only_c[:3]] + [f"{cid} only ours: {k}" for k in only_o[:3]]
    print("\n" + "\n".join(rows))
    assert sum(len(theirs[c] & mine[o]) for c, o in CHECKOV_TO_OURS.items()) > 4000
    assert not bad, "\n".join(bad)


def _mutants() -> dict[str, tuple[str, Callable[[dict[str, Any]], None]]]:
    def pod(d: dict[str, Any]) -> dict[str, Any]:
        return d["spec"]["template"]["spec"]  # type: ignore[no-any-return]

    def ctr(d: dict[str, Any]) -> dict[str, Any]:
        return pod(d)["containers"][0]["securityContext"]  # type: ignore[no-any-return]

    return {
        "baseline: HostProcess": ("CG-K8S-001", lambda d: pod(d)["securityContext"].update(
            windowsOptions={"hostProcess": True})),
        "baseline: Host Namespaces (network)": ("CG-K8S-002", lambda d: pod(d).update(hostNetwork=True)),
        "baseline: Host Namespaces (PID)": ("CG-K8S-003", lambda d: pod(d).update(hostPID=True)),
        "baseline: Host Namespaces (IPC)": ("CG-K8S-004", lambda d: pod(d).update(hostIPC=True)),
        "baseline: Privileged Containers": ("CG-K8S-005", lambda d: ctr(d).update(privileged=True)),
        "baseline: Capabilities": ("CG-K8S-006", lambda d: ctr(d)["capabilities"].update(add=["SYS_ADMIN"])),
        "baseline: HostPath Volumes": ("CG-K8S-007", lambda d: pod(d)["volumes"].append(
            {"name": "h", "hostPath": {"path": "/etc"}})),
        "baseline: Host Ports": ("CG-K8S-008", lambda d: pod(d)["containers"][0]["ports"][0].update(hostPort=8080)),
        "baseline: AppArmor": ("CG-K8S-009", lambda d: ctr(d).update(appArmorProfile={"type": "Unconfined"})),
        "baseline: SELinux": ("CG-K8S-010", lambda d: pod(d)["securityContext"].update(
            seLinuxOptions={"type": "spc_t"})),
        "baseline: /proc Mount Type": ("CG-K8S-011", lambda d: ctr(d).update(procMount="Unmasked")),
        "baseline: Seccomp": ("CG-K8S-012", lambda d: pod(d)["securityContext"].update(
            seccompProfile={"type": "Unconfined"})),
        "baseline: Sysctls": ("CG-K8S-013", lambda d: pod(d)["securityContext"].update(
            sysctls=[{"name": "kernel.msgmax", "value": "65536"}])),
        "restricted: Volume Types": ("CG-K8S-014", lambda d: pod(d)["volumes"].append(
            {"name": "n", "nfs": {"server": "nfs.example", "path": "/x"}})),
        "restricted: Privilege Escalation": ("CG-K8S-015", lambda d: ctr(d).update(allowPrivilegeEscalation=True)),
        "restricted: Running as Non-root": ("CG-K8S-016", lambda d: pod(d)["securityContext"].update(
            runAsNonRoot=False)),
        "restricted: Running as Non-root user": ("CG-K8S-017", lambda d: ctr(d).update(runAsUser=0)),
        "restricted: Seccomp": ("CG-K8S-018", lambda d: pod(d)["securityContext"].pop("seccompProfile")),
        "restricted: Capabilities (drop ALL)": ("CG-K8S-019", lambda d: ctr(d)["capabilities"].pop("drop")),
        "restricted: Capabilities (add)": ("CG-K8S-020", lambda d: ctr(d)["capabilities"].update(add=["CHOWN"])),
    }


@pytest.mark.slow
def test_pss_coverage_versus_checkov(tmp_path: Path) -> None:
    base = yaml.safe_load(HARDENED.read_text())
    files = {"hardened": tmp_path / "hardened.yaml"}
    files["hardened"].write_text(yaml.safe_dump(base))
    expected: dict[str, str] = {}
    for i, (control, (cid, mutate)) in enumerate(_mutants().items()):
        d = copy.deepcopy(base)
        d["metadata"]["name"] = f"m{i}"
        mutate(d)
        p = tmp_path / f"m{i}.yaml"
        p.write_text(yaml.safe_dump(d))
        files[control], expected[control] = p, cid
    assert scan_manifest(files["hardened"]).findings == []
    failed: dict[str, set[str]] = collections.defaultdict(set)
    for r in run_checkov(files.values()):
        if not r.passed:
            failed[Path(r.file).name].add(r.check_id)
    baseline = failed[files["hardened"].name]
    rows, checkov_missed = [], []
    for control, cid in expected.items():
        ours = {f.id for f in scan_manifest(files[control]).findings}
        assert cid in ours, f"we missed {control}"
        extra = failed[files[control].name] - baseline
        rows.append(f"{control:40} ours={cid}  checkov={','.join(sorted(extra)) or 'MISSED'}")
        if not extra:
            checkov_missed.append(control)
    print("\n" + "\n".join(rows))
    for control in ("baseline: SELinux", "baseline: /proc Mount Type", "baseline: Sysctls", "restricted: Volume Types"):
        assert control in checkov_missed
