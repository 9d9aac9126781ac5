"""Kubernetes manifest checks: our speed beside Checkov's on the same 1,000-object corpus.

Targets (issue #5): at least 1,000 manifests (Kubernetes objects) per second, and at least 10 times
Checkov's speed on the same files. Run: .venv/bin/python bench/misconfig_k8s_speed.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.misconfig_peers import k8s_corpus, run_checkov  # noqa: E402

from containerguard.misconfig.kubernetes import scan_manifests  # noqa: E402

TARGET_PER_S = 1000.0
TARGET_SPEEDUP = 10.0


def main() -> int:
    corpus = ROOT.parent / "shared" / "corpora" / "k8s"
    if not corpus.is_dir():
        corpus = Path("/work/shared/corpora/k8s")
    files = k8s_corpus(corpus, 1000)
    scan_manifests(files[:5])  # warm the catalog
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        res = scan_manifests(files)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    peer = run_checkov(files)
    checkov_s = time.perf_counter() - t0
    rate = res.objects / best
    speedup = checkov_s / best
    print(f"corpus: {len(files)} files, {res.objects} Kubernetes objects, {res.documents} YAML documents")
    print(f"containerguard: {best:.3f} s  -> {rate:,.0f} manifests/s   (target >= {TARGET_PER_S:,.0f}/s)"
          f"  {'OK' if rate >= TARGET_PER_S else 'MISSED'}")
    print(f"checkov:        {checkov_s:.3f} s  ({len(peer)} check results)")
    print(f"speed-up:       {speedup:.1f}x   (target >= {TARGET_SPEEDUP:.0f}x)  {'OK' if speedup >= TARGET_SPEEDUP else 'MISSED'}")
    return 0 if rate >= TARGET_PER_S and speedup >= TARGET_SPEEDUP else 1


if __name__ == "__main__":
    sys.exit(main())
