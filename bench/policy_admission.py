"""Policies at deploy time: admission decision latency over HTTPS and policy evaluations per second on one core.

    python bench/policy_admission.py [--requests N]

Workload objects come from the shared Kubernetes corpus. The webhook (`containerguard admission serve`, default
policy set) runs in its own process; requests are sent one at a time over a keep-alive HTTPS connection, and
the decision latency is the client-side round trip. Evaluations/s: the default deploy policies over every
container document of the corpus in this process, pinned to one CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from bench._common import target_line
from tests.fixtures import env
from tests.fixtures.webhook import admission_server, make_certs

from containerguard.policy import Stage, inputs, load_policies
from containerguard.policy.testing import load_inputs


def corpus_objects() -> list[dict]:
    out = []
    for f in sorted((env._shared_dir() / "corpora" / "k8s").glob("*.y*ml")):
        try:
            docs = load_inputs(f)
        except Exception:
            continue
        out.extend(dict(d) for d in docs if inputs.pod_spec(d) is not None)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    objs = corpus_objects()
    ok = True
    # --- evaluations per second, one core
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ps = load_policies()
    docs = [d for o in objs for _, d in inputs.from_k8s_object(o)]
    t = time.perf_counter()
    n = 0
    for _ in range(3):
        for d in docs:
            n += ps.evaluate(d, Stage.DEPLOY).evaluated
    rate = n / (time.perf_counter() - t)
    ok &= target_line("policy evaluations/s (1 core)", rate, 20000, "evals/s", at_least=True, fmt=",.0f",
                      note=f"{len(docs)} container documents x {len(ps.for_stage(Stage.DEPLOY))} deploy policies")
    # --- admission decision latency over HTTPS
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(Path(tmp) / "tls")
        with admission_server(certs) as url, httpx.Client(base_url=url, verify=certs.context(), timeout=10) as client:
            lat = []
            for i in range(args.requests + 100):
                o = objs[i % len(objs)]
                body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                    "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": o["kind"]},
                    "namespace": "bench", "operation": "CREATE", "object": o}}
                t0 = time.perf_counter()
                r = client.post("/validate", json=body)
                dt = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                if i >= 100:  # warm-up
                    lat.append(dt * 1e3)
    lat.sort()
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"admission requests: {len(lat)} ({len(objs)} distinct workload objects), "
          f"p50 {statistics.median(lat):.2f} ms, max {lat[-1]:.2f} ms")
    ok &= target_line("admission decision p99", p99, 20, "ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
