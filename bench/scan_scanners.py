"""Benchmark: what secret and misconfiguration scanning add to `containerguard scan`.

`scan docker-archive:TAR` of the application image (debootstrap bookworm + Python/npm/Java/Go layers,
tests/fixtures/app_image.py) through the CLI process, interpreter start included, with a warm database:

* cold: a fresh, empty layer cache (every layer read and analysed);
* warm: the layer cache filled by the previous run (no layer read).

for ``--scanners vuln`` and for the default ``vuln,secret,misconfig``. All scanners share one walk over
the layers, so the extra cost is the analyzers' work, not another pass.

Targets: issue #3, warm scan <= 2 s wall (checked for the default scanners); issue #5, secret scanning of
the debootstrap image <= 3 s (checked as the cold `--scanners secret` scan of the bare Debian image).
Run: .venv/bin/python bench/scan_scanners.py [--db PATH] [--runs 3]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import CLI, app_image_scan, target_line
from tests.fixtures import env

WARM_TARGET_S = 2.0
SECRET_TARGET_S = 3.0


def _wall(cmd: list[str], cache_dir: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "CONTAINERGUARD_CACHE_DIR": cache_dir})
    return time.perf_counter() - t0


def _measure(cmd: list[str], runs: int) -> tuple[float, float]:
    """(median cold, median warm) over ``runs`` fresh caches."""
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="cg-bench-cache-") as cache:
            cold.append(_wall(cmd, cache))
            warm.append(_wall(cmd, cache))
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    args, tar, base = app_image_scan(default_runs=3)
    rc = 0
    print(f"image {tar.name} ({tar.stat().st_size / 1e6:.0f} MB), median of {args.runs} runs")
    results = {}
    for scanners in ("vuln", "vuln,secret,misconfig"):
        results[scanners] = _measure([*base, "--scanners", scanners], args.runs)
        cold, warm = results[scanners]
        print(f"  --scanners {scanners:22s} cold {cold:6.2f} s   warm {warm:6.2f} s")
    warm_all = results["vuln,secret,misconfig"][1]
    ok = target_line("warm scan, all scanners", warm_all, WARM_TARGET_S, "s")
    rc |= 0 if ok else 1
    extra = results["vuln,secret,misconfig"][0] - results["vuln"][0]
    print(f"cold cost of secret+misconfig over vuln alone: {extra:+.2f} s")

    debian = env.docker_save(env.debian_image())
    cold, warm = _measure([CLI, "scan", f"docker-archive:{debian}", "--scanners", "secret", "-f", "json",
                           "-o", "/dev/null", "-q"], args.runs)
    ok = target_line("secret scan, debootstrap (cold)", cold, SECRET_TARGET_S, "s", note=f"(warm {warm:.2f} s)")
    rc |= 0 if ok else 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
