"""Inventory speed on the debootstrap Debian image (issue #2 targets).

* cold cache, docker-archive (``docker save``; uncompressed layers): at most 1.5 x the time ``gzip -dc``
  takes over the same layers (gzipped into an OCI layout by skopeo) + 0.5 s. Measured in-process
  (``build_inventory``) and as the wall time of the ``containerguard sbom`` command.
* the same, cold, from the gzip OCI layout (decompression included on both sides).
* warm cache: ``containerguard sbom`` wall time minus ``python -c pass``: at most 0.3 s.

Like a user's pip-installed package, the measured commands run with bytecode: ``python -m compileall``
compiles ``src`` once, and the measured subprocesses run without ``PYTHONDONTWRITEBYTECODE`` (which the
development environment sets, making every run recompile the project). ``python -c pass`` runs in that
same environment.

Run: .venv/bin/python bench/inventory_speed.py   (needs dockerd; builds the image once)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures import env
from tests.fixtures import registry as reg

from containerguard.scanner.cache import LayerCache
from containerguard.scanner.inventory import build_inventory

PY = sys.executable
SRC = Path(__file__).resolve().parents[1] / "src"
#: the environment of every measured subprocess: a user's, who has the package's .pyc files
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_bytecode() -> None:
    """What pip does at install time: byte-compile the package (once; later runs find the .pyc files)."""
    subprocess.run([PY, "-m", "compileall", "-q", str(SRC)], check=True, env=USER_ENV)


def wall(cmd: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=USER_ENV)
        times.append(time.perf_counter() - t)
    return min(times)


def gzip_dc(layout: Path) -> tuple[float, float, int]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text())
    blobs = [layout / "blobs/sha256" / d["digest"].split(":")[1] for d in manifest["layers"]]
    best = best_cpu = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        before = os.times()
        for b in blobs:
            subprocess.run(["gzip", "-dc", str(b)], check=True, stdout=subprocess.DEVNULL)
        after = os.times()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, (after.children_user + after.children_system)
                       - (before.children_user + before.children_system))
    return best, best_cpu, sum(b.stat().st_size for b in blobs)


def cold_in_process(target: str, runs: int = 3) -> tuple[float, float]:
    """(best wall, best CPU) seconds of a cold-cache build_inventory."""
    times, cpu = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            t, c = time.perf_counter(), time.process_time()
            build_inventory(target, cache=LayerCache(d))
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    return min(times), min(cpu)


def line(label: str, value: float, target: float) -> None:
    verdict = "OK" if value <= target else "OVER"
    print(f"{label:<58} {value:7.3f} s   target <= {target:6.3f} s   {verdict}")


def main() -> None:
    compile_bytecode()
    print(f"bytecode: `python -m compileall -q {SRC}` run once; measured subprocesses run without "
          "PYTHONDONTWRITEBYTECODE (as a pip-installed package)")
    tag = env.debian_image()
    archive = env.docker_save(tag)
    layout = reg.skopeo_layout(tag, "oci", "gzip")
    gz, gz_cpu, gz_bytes = gzip_dc(layout)
    print(f"image {tag}: docker-archive {archive.stat().st_size / 1e6:.0f} MB, gzip layers {gz_bytes / 1e6:.0f} MB")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall figures are noisy when loaded)")
    print(f"{'gzip -dc over the gzipped layers (wall)':<58} {gz:7.3f} s")
    print(f"{'gzip -dc over the gzipped layers (CPU)':<58} {gz_cpu:7.3f} s")
    target_cold, target_cpu = 1.5 * gz + 0.5, 1.5 * gz_cpu + 0.5
    build_inventory(f"docker-archive:{archive}", cache=None)  # warm the page cache and .pyc files
    for label, target in (("docker-archive", f"docker-archive:{archive}"), ("oci (gzip)", f"oci:{layout}:bookworm")):
        w, c = cold_in_process(target)
        line(f"cold, {label}, in-process build_inventory (wall)", w, target_cold)
        line(f"cold, {label}, in-process build_inventory (CPU)", c, target_cpu)
    with tempfile.TemporaryDirectory() as d:
        cli = [PY, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{archive}", "-f", "json", "-q",
               "--cache-dir", d]
        t = time.perf_counter()
        subprocess.run(cli, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=USER_ENV)
        line("cold, docker-archive, `containerguard sbom` wall", time.perf_counter() - t, target_cold)
        py = wall([PY, "-c", "pass"], 5)
        warm = wall(cli, 5)
        print(f"{'python -c pass':<58} {py:7.3f} s")
        print(f"{'warm, docker-archive, `containerguard sbom` wall':<58} {warm:7.3f} s")
        line("warm beyond interpreter start-up", warm - py, 0.3)
        imp = wall([PY, "-c", "import containerguard.cli.main"], 5)
        print(f"{'  of which: import containerguard.cli.main':<58} {imp - py:7.3f} s")
        inproc = []
        cache = LayerCache(d)
        for _ in range(5):
            t = time.perf_counter()
            build_inventory(f"docker-archive:{archive}", cache=cache)
            inproc.append(time.perf_counter() - t)
        print(f"{'  of which: build_inventory (warm, in-process)':<58} {statistics.median(inproc):7.3f} s")


if __name__ == "__main__":
    main()
