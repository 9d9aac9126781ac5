"""Policies at deploy time: admission decision latency over HTTPS and policy evaluations per second on one core.

    python bench/policy_admission.py [--requests N] [--no-reporting]

Workload objects come from the shared Kubernetes corpus. The webhook (`containerguard admission serve`, default
policy set) runs in its own process; requests are sent one at a time over a keep-alive HTTPS connection, and
the decision latency is the client-side round trip. It is measured twice: standalone, and reporting every
decision to a real `containerguard server` (`--server --token`, an enforcer token; SQLite) -- the figure
that counts, as the decision path must not wait for the server. Evaluations/s: the default deploy policies over every
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
from tests.fixtures import server as srv
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


def _request(o: dict) -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": o["kind"]},
        "namespace": "bench", "operation": "CREATE", "object": o}}


def _latency(objs: list[dict], certs, requests: int, label: str, extra: tuple[str, ...]) -> bool:
    with admission_server(certs, *extra) as url, httpx.Client(base_url=url, verify=certs.context(), timeout=10) as client:
        lat = []
        for i in range(requests + 100):
            body = _request(objs[i % len(objs)])
            t0 = time.perf_counter()
            r = client.post("/validate", json=body)
            dt = time.perf_counter() - t0
            assert r.status_code == 200, r.text
            if i >= 100:  # warm-up
                lat.append(dt * 1e3)
    lat.sort()
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"{label}: {len(lat)} requests ({len(objs)} distinct workload objects), "
          f"p50 {statistics.median(lat):.2f} ms, max {lat[-1]:.2f} ms")
    return target_line(label, p99, 20, "ms")


def _server(tmp: Path) -> tuple[srv.ServerProcess, str, str]:
    """A real server on SQLite, its admin token and an enforcer token for the webhook."""
    s = srv.ServerProcess.server(tmp, "--data-dir", str(tmp / "data"), env={"XDG_DATA_HOME": str(tmp / "xdg")})
    admin = s.first_line().rsplit(" ", 1)[1].strip()
    r = httpx.post(f"{s.url}/api/v1/tokens", json={"name": "bench-webhook", "role": "enforcer"},
                   headers={"Authorization": f"Bearer {admin}"})
    return s, admin, str(r.json()["token"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--no-reporting", action="store_true", help="only the standalone webhook")
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
    # --- admission decision latency over HTTPS, standalone then reporting to a server
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(Path(tmp) / "tls")
        ok &= _latency(objs, certs, args.requests, "admission decision p99", ())
        if not args.no_reporting:
            server, admin, token = _server(Path(tmp))
            try:
                ok &= _latency(objs, certs, args.requests, "admission p99, reporting on",
                               ("--server", server.url, "--token", token, "--spool-dir", str(Path(tmp) / "spool")))
                time.sleep(3)  # the last batch
                enf = httpx.get(f"{server.url}/api/v1/policy/enforcers", headers={"Authorization": f"Bearer {admin}"}).json()
                print("the server counted " + ", ".join(f"{k} {e[k]:,}" for e in enf for k in ("allowed", "denied", "warned"))
                      + " decisions from the webhook")
            finally:
                server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
