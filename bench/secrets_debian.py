"""Benchmark: secret scanning of the debootstrap'd Debian bookworm rootfs (target: at most 3 s).

Measures ``containerguard.secrets.scan_directory`` over the rootfs (tests/fixtures/env.debian_rootfs(),
built once per machine) and, when Docker is up, the walker running SecretAnalyzer over the same image from
a docker-archive with the layer cache off. Prints each figure beside its target.

    .venv/bin/python bench/secrets_debian.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures import env

from containerguard.analyzer.secrets import SecretAnalyzer
from containerguard.secrets import scan_directory

TARGET_S = 3.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true", help="skip the docker-archive measurement")
    args = ap.parse_args()
    root = env.debian_rootfs()
    scan_directory(root)  # warm the page cache and compile the rules once
    times, res = [], None
    for _ in range(args.runs):
        t = time.perf_counter()
        res = scan_directory(root)
        times.append(time.perf_counter() - t)
    assert res is not None
    best, med = min(times), statistics.median(times)
    ok = "OK" if med <= TARGET_S else "OVER TARGET"
    print(f"secrets dir:{root}: median {med:.2f} s, best {best:.2f} s over {args.runs} runs "
          f"(target <= {TARGET_S:.1f} s) {ok}")
    print(f"  files scanned {res.files_scanned}, bytes {res.bytes_scanned / 1e6:.1f} MB, "
          f"binary skipped {res.skipped_binary}, oversize skipped {res.skipped_large}, findings {len(res.findings)}")
    rc = 0 if med <= TARGET_S else 1
    if not args.no_docker and env.docker_ok():
        from containerguard.scanner.inventory import build_inventory

        archive = env.docker_save(env.debian_image())
        t = time.perf_counter()
        inv = build_inventory(f"docker-archive:{archive}", analyzers=[SecretAnalyzer()], cache=None)
        dt = time.perf_counter() - t
        ok = "OK" if dt <= TARGET_S else "OVER TARGET"
        print(f"secrets docker-archive:{archive.name} (walker, cold, no cache): {dt:.2f} s "
              f"(target <= {TARGET_S:.1f} s) {ok}; findings {len(inv.file_findings)}")
        rc = rc or (0 if dt <= TARGET_S else 1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
