"""Run the peer tools in-process on the same inputs as ours (shared by bench/ and the peer tests).

Checkov is driven through its Kubernetes runner (``checkov.kubernetes.runner.Runner``) rather than its
CLI: the CLI's entry module imports Checkov's CycloneDX exporter, which is incompatible with the
cyclonedx-python-lib version ContainerGuard depends on; the runner itself does not need it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Checkov's check id -> ours, for the checks that test the same control
CHECKOV_TO_OURS: dict[str, str] = {
    "CKV_K8S_16": "CG-K8S-005",  # privileged
    "CKV_K8S_17": "CG-K8S-003",  # hostPID
    "CKV_K8S_18": "CG-K8S-004",  # hostIPC
    "CKV_K8S_19": "CG-K8S-002",  # hostNetwork
    "CKV_K8S_20": "CG-K8S-015",  # allowPrivilegeEscalation
    "CKV_K8S_22": "CG-K8S-027",  # readOnlyRootFilesystem
    "CKV_K8S_26": "CG-K8S-008",  # hostPort
    "CKV_K8S_37": "CG-K8S-019",  # capabilities: drop ALL
    "CKV_K8S_38": "CG-K8S-025",  # automountServiceAccountToken
    "CKV_K8S_43": "CG-K8S-024",  # image digest
    "CKV_K8S_14": "CG-K8S-023",  # image latest / untagged
    "CKV_K8S_31": "CG-K8S-018",  # seccomp RuntimeDefault
    "CKV_K8S_49": "CG-K8S-026",  # RBAC wildcards
}


@dataclass(frozen=True, slots=True)
class PeerResult:
    check_id: str
    file: str
    kind: str
    namespace: str
    name: str
    passed: bool


def run_checkov(files: Iterable[str | Path]) -> list[PeerResult]:
    """Checkov's Kubernetes checks over the files; one row per (check, resource)."""
    logging.getLogger("checkov").setLevel(logging.ERROR)
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    report = Runner().run(root_folder=None, files=[str(f) for f in files],
                          runner_filter=RunnerFilter(framework=["kubernetes"]))
    out: list[PeerResult] = []
    for passed, records in ((False, report.failed_checks), (True, report.passed_checks)):
        for r in records:
            kind, _, rest = r.resource.partition(".")
            ns, _, name = rest.partition(".")
            out.append(PeerResult(r.check_id, str(Path(r.file_abs_path or r.file_path)), kind, ns, name, passed))
    return out


def k8s_corpus(root: Path, min_objects: int = 1000) -> list[Path]:
    """The first files of a manifest corpus (sorted by name) that together hold ``min_objects`` objects."""
    from containerguard.misconfig.kubernetes import scan_manifest

    files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    out: list[Path] = []
    n = 0
    for p in files:
        out.append(p)
        n += scan_manifest(p).objects
        if n >= min_objects:
            break
    return out
