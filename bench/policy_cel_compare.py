"""Compare the two maintained CEL libraries on the default policy set's expressions: results and speed.

    python bench/policy_cel_compare.py

common-expression-language (Rust, ``import cel``) vs cel-python (``import celpy``): each default policy's
condition over a deploy document (a Docker create body) and a build document (200 findings, 150 packages).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import cel
import celpy
from bench._common import target_line

from containerguard.policy import Stage, inputs, load_policies


def _build_doc() -> dict:
    return inputs.complete({
        "image": {"known": True, "name": "reg.example/app:latest", "registry": "reg.example", "tag": "latest",
                  "age_days": 400, "env": {"API_TOKEN": "x", "PATH": "/bin"}, "exposed_ports": [22, 8080], "layers": 3},
        "findings": [{"id": f"CVE-{i}", "severity": "CRITICAL" if i % 7 == 0 else "LOW", "cvss": 9.8 if i % 7 == 0 else 3,
                      "epss": 0.5, "kev": i == 150, "fixed": i % 2 == 0, "package": {"name": f"p{i}", "type": "deb"}}
                     for i in range(200)],
        "packages": [{"name": n, "version": "1", "type": "deb"} for n in ["openssh-server", "curl", "bash"] * 50],
    }, "build")


def main() -> int:
    ps = load_policies()
    deploy = inputs.from_docker_create({"Image": "nginx", "User": "0", "HostConfig": {
        "CapAdd": ["NET_ADMIN"], "Binds": ["/etc:/host-etc:ro"], "SecurityOpt": ["seccomp=unconfined"]}})
    env = celpy.Environment()
    disagree = 0
    for stage, doc in ((Stage.DEPLOY, deploy), (Stage.BUILD, _build_doc())):
        pols = ps.for_stage(stage)
        ctx = cel.Context(variables=doc)
        act = celpy.json_to_cel(doc)
        rust_t = py_t = 0.0
        for p in pols:
            ctx.add_variable("params", dict(p.params))
            act_p = {**act, "params": celpy.json_to_cel(dict(p.params))}
            t = time.perf_counter()
            try:
                r: object = cel.compile(p.condition).execute(ctx)
            except Exception as exc:
                r = f"error: {type(exc).__name__}"
            rust_t += time.perf_counter() - t
            t = time.perf_counter()
            try:
                prog = env.program(env.compile(p.condition))
                q: object = prog.evaluate(act_p)
                q = bool(q) if isinstance(q, celpy.celtypes.BoolType) else f"error: {type(q).__name__}"
            except Exception as exc:
                q = f"error: {type(exc).__name__}"
            py_t += time.perf_counter() - t
            if r != q:
                disagree += 1
                print(f"  {stage} {p.id}: common-expression-language={r} cel-python={q}")
        n = len(pols)
        print(f"{stage}: {n} policies, compile+evaluate each once: common-expression-language "
              f"{rust_t * 1e3:.1f} ms, cel-python {py_t * 1e3:.1f} ms")
        # steady state: compiled once, context built once per document
        progs = [cel.compile(p.condition) for p in pols]
        rounds = 200 if stage is Stage.DEPLOY else 50
        t = time.perf_counter()
        for _ in range(rounds):
            c = cel.Context(variables=doc)
            for p, prog in zip(pols, progs, strict=True):
                c.add_variable("params", dict(p.params))
                with contextlib.suppress(Exception):
                    prog.execute(c)
        rate = rounds * n / (time.perf_counter() - t)
        pprogs = [env.program(env.compile(p.condition)) for p in pols]
        prounds = max(2, rounds // 20)
        t = time.perf_counter()
        for _ in range(prounds):
            a = celpy.json_to_cel(doc)
            for p, prog in zip(pols, pprogs, strict=True):
                prog.evaluate({**a, "params": celpy.json_to_cel(dict(p.params))})
        prate = prounds * n / (time.perf_counter() - t)
        if stage is Stage.DEPLOY:  # the target is about admission; a build document is evaluated once per CI job
            target_line(f"{stage} evals/s (Rust cel)", rate, 20000, "evals/s", at_least=True, fmt=",.0f",
                        note=f"cel-python: {prate:,.0f} evals/s")
        else:
            print(f"{stage} evals/s (Rust cel)         {rate:,.0f} evals/s (context of 200 findings built per "
                  f"document)   cel-python: {prate:,.0f} evals/s")
    print(f"expressions where the libraries disagree: {disagree} (listed above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
