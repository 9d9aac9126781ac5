"""Benchmark: rescan of stored inventories against the full database.

Target (issue #3): 1,000 stored inventories of 300 packages each re-matched in <= 6 s, i.e.
>= 50,000 packages/s. Each inventory is a native JSON file (as `sbom`/`scan --format json` write them)
holding the real packages of the debootstrap bookworm rootfs plus language packages drawn (seeded) from
the real name/version pairs in the OSV records, so most names have advisories and many versions match.
The timed loop is what `detect.rescan` does per file: load the JSON, match, collect findings.
Run: .venv/bin/python bench/detect_throughput.py [--db PATH] [--inventories 1000] [--packages 300]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from tests.fixtures import env, vulnmirror

from containerguard.detect import Matcher
from containerguard.model import Inventory, Package
from containerguard.report import get_reporter
from containerguard.scanner.inventory import build_inventory
from containerguard.scanner.sbom_input import parse_inventory
from containerguard.vulndb import VulnDB

TARGET_S = 6.0
TARGET_PPS = 50_000
AFFECTED_SHARE = 0.25
TYPES = {"PyPI": "pypi", "npm": "npm", "Maven": "maven", "Go": "golang", "crates.io": "cargo", "RubyGems": "gem",
         "NuGet": "nuget", "Packagist": "composer"}


def language_pool(per_eco: int = 2500, seed: int = 7) -> list[Package]:
    rnd = random.Random(seed)
    pool: list[Package] = []
    for eco, ptype in TYPES.items():
        pairs: dict[str, str] = {}  # one version per name: names with hundreds of records are not over-drawn
        with zipfile.ZipFile(vulnmirror.VULNDATA / "osv" / eco / "all.zip") as zf:
            names = zf.namelist()
            for n in rnd.sample(names, min(len(names), per_eco)):
                rec = orjson.loads(zf.read(n))
                for a in rec.get("affected") or []:
                    pkg = a.get("package") or {}
                    if pkg.get("ecosystem") != eco:
                        continue
                    affected = a.get("versions") or []
                    fixed = [e["fixed"] for r in a.get("ranges", []) for e in r.get("events", []) if "fixed" in e]
                    # like a real image: about one package in four at a vulnerable version, the rest at a fix
                    if pkg["name"] in pairs:
                        continue
                    if affected and (not fixed or rnd.random() < AFFECTED_SHARE):
                        pairs[pkg["name"]] = rnd.choice(affected)
                    elif fixed:
                        pairs[pkg["name"]] = rnd.choice(fixed)
        pool.extend(Package(name=nm, version=("v" + v if ptype == "golang" else v), type=ptype) for nm, v in sorted(pairs.items()))
    return pool


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path)
    ap.add_argument("--inventories", type=int, default=1000)
    ap.add_argument("--packages", type=int, default=300)
    ap.add_argument("--profile", type=Path, help="Write cProfile stats of the timed loop to this file.")
    args = ap.parse_args()
    if os.environ.get("CG_NOGC"):
        import gc
        gc.disable()
    db_path = args.db or vulnmirror.built_db()
    base = build_inventory(f"dir:{env.debian_rootfs()}", cache=None)
    debs = [p for p in base.packages if p.type == "deb"]
    pool = language_pool()
    rnd = random.Random(42)
    n_lang = args.packages - len(debs)
    with tempfile.TemporaryDirectory(prefix="cg-bench-rescan-") as d:
        files = []
        for i in range(args.inventories):
            inv = Inventory(target=f"bench-{i}", os=base.os, packages=tuple(debs + rnd.sample(pool, n_lang)))
            f = Path(d) / f"inv-{i:04d}.json"
            f.write_text(get_reporter("json")(inv, [], target=inv.target, tool_version="bench"))
            files.append(f)
        with VulnDB(db_path) as db:
            matcher = Matcher(db)
            prof = None
            if args.profile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            t0 = time.perf_counter()
            c0 = time.process_time()
            total_pkgs = total_findings = 0
            t_load = 0.0
            for f in files:
                t1 = time.perf_counter()
                inv = parse_inventory(f.read_bytes(), f.name)  # what detect.rescan(path) does
                t_load += time.perf_counter() - t1
                res = matcher.match(inv)
                total_pkgs += len(inv.packages)
                total_findings += len(res.findings)
            dt = time.perf_counter() - t0
            cpu = time.process_time() - c0
            if prof is not None:
                prof.disable()
                prof.dump_stats(args.profile)
    pps = total_pkgs / dt
    print(f"inventories             {args.inventories} x {args.packages} packages "
          f"({len(debs)} deb from the bookworm rootfs + {n_lang} language from a pool of {len(pool)})")
    print(f"findings                {total_findings}")
    print(f"  of which JSON loading {t_load:7.2f} s")
    print(f"CPU time of the process {cpu:7.2f} s      (wall differs when other work shares the cores)")
    ok = target_line("rescan time", dt, TARGET_S * args.inventories / 1000 * args.packages / 300, "s")
    ok &= target_line("throughput", pps, TARGET_PPS, "packages/s", at_least=True, fmt="9,.0f")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
