"""Analyzer throughput on real files: the debootstrap rootfs's dpkg status, every built-in analyzer over the
whole rootfs (what one layer of the base image costs beyond reading the tar), and over the app image's files.

    .venv/bin/python bench/analyzer_throughput.py

Targets (so that the issue's inventory target, 1.5x gzip -dc + 0.5 s, leaves room for tar reading):
dpkg status of a minbase (~90 packages) <= 20 ms; required() + analyze() of all analyzers over
the minbase rootfs <= 0.5 s; over the app image's added files <= 0.25 s. The host directory walk is
printed beside but not counted (the real walker reads tar streams instead).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.fixtures import env
from tests.fixtures.app_image import app_sources

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.analyzer.dpkg import DpkgAnalyzer
from containerguard.analyzer.plugins import builtin_analyzers
from containerguard.errors import AnalyzerError


def timed_tree(root: Path, analyzers: list[Analyzer]) -> tuple[float, float, dict[str, float], dict[str, int], int, int]:
    """(total seconds, seconds in required(), seconds in analyze() per analyzer, files opened per analyzer,
    packages, files walked)."""
    per: dict[str, float] = defaultdict(float)
    req = 0.0
    opened: dict[str, int] = defaultdict(int)
    total = AnalysisResult()
    walked = 0
    t0 = time.perf_counter()
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            full = Path(dirpath) / fn
            st = full.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            walked += 1
            rel = full.relative_to(root).as_posix()
            t = time.perf_counter()
            wanted = [a for a in analyzers if a.required(rel, st.st_mode)]
            req += time.perf_counter() - t
            if not wanted:
                continue
            with open(full, "rb") as fh:
                for a in wanted:
                    fh.seek(0)
                    t = time.perf_counter()
                    try:
                        total.merge(a.analyze(AnalyzerInput(rel, st.st_size, st.st_mode, fh)))
                    except AnalyzerError as exc:
                        total.warnings.append(str(exc))
                    per[a.type] += time.perf_counter() - t
                    opened[a.type] += 1
    return time.perf_counter() - t0, req, per, opened, len(total.packages), walked


def line(label: str, value: float, target: float, unit: str = "s") -> None:
    ok = "OK " if value <= target else "MISS"
    print(f"  [{ok}] {label:<52} {value:8.3f} {unit}   (target <= {target} {unit})")


def main() -> None:
    rootfs = env.debian_rootfs()
    app = app_sources()
    status = rootfs / "var/lib/dpkg/status"
    dpkg = DpkgAnalyzer()
    runs = 50
    t = time.perf_counter()
    for _ in range(runs):
        with open(status, "rb") as fh:
            n = len(dpkg.analyze(AnalyzerInput("var/lib/dpkg/status", status.stat().st_size, 0o100644, fh)).packages)
    per_run = (time.perf_counter() - t) / runs
    print(f"dpkg status of the debootstrap minbase: {n} packages, {status.stat().st_size / 1024:.0f} KiB")
    line("dpkg status parse (mean of 50)", per_run * 1000, 20, "ms")
    print(f"  {n / per_run:,.0f} packages/s, {status.stat().st_size / per_run / 1e6:.1f} MB/s")

    for label, root, target in (("debootstrap minbase rootfs", rootfs, 0.5), ("app image added files", app.context, 0.25)):
        total, req, per, opened, pkgs, walked = timed_tree(root, builtin_analyzers())
        print(f"\nall built-in analyzers over the {label}: {walked} files walked, {pkgs} packages")
        line(f"required() + analyze() ({label})", req + sum(per.values()), target)
        print(f"    required() on every file: {req * 1000:.1f} ms ({req / max(walked, 1) * 1e6:.1f} us/file); "
              f"host walk+open included: {total:.3f} s")
        for typ, secs in sorted(per.items(), key=lambda kv: -kv[1]):
            print(f"    {typ:<20} {secs * 1000:8.1f} ms over {opened[typ]:5d} files")


if __name__ == "__main__":
    main()
