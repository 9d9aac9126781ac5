"""Peak memory of an inventory of a ~1 GB image (issue #2 target: at most 200 MB).

Builds (once per machine) ``cg-test/big:1``: the debootstrap Debian image plus four layers of 256 MB of
random data each (one file is executable and one is named like a jar, so analyzers spool and read large
files), saves it with ``docker save``, then runs ``containerguard sbom`` on it in a subprocess (cold cache)
and reads the child's peak RSS (ru_maxrss). Sources measured: docker-archive and the Docker daemon.

Run: .venv/bin/python bench/inventory_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures import env

BIG_IMAGE = "cg-test/big:1"
FILES = {"data0.bin": 0o644, "tool": 0o755, "lib.jar": 0o644, "data3.bin": 0o644}
FILE_MB = 256


def big_image() -> str:
    base = env.debian_image()
    with env.machine_lock("big-image"):
        if env.image_exists(BIG_IMAGE):
            return BIG_IMAGE
        ctx = env.CACHE / "big-image"
        ctx.mkdir(parents=True, exist_ok=True)
        lines = [f"FROM {base}"]
        for name, mode in FILES.items():
            p = ctx / name
            if not p.exists() or p.stat().st_size != FILE_MB << 20:
                with open(p, "wb") as fh:
                    for _ in range(FILE_MB):
                        fh.write(os.urandom(1 << 20))
            p.chmod(mode)
            lines.append(f"COPY {name} /opt/big/{name}")
        (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
        subprocess.run(["docker", "build", "-q", "-t", BIG_IMAGE, str(ctx)], check=True, capture_output=True,
                       env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return BIG_IMAGE


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a child process."""
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - t


def main() -> None:
    tag = big_image()
    archive = env.docker_save(tag)
    print(f"image {tag}: docker-archive {archive.stat().st_size / 1e9:.2f} GB")
    base_rss = peak_rss([sys.executable, "-c", "import containerguard.cli.main"])[0]
    print(f"{'baseline: python + import containerguard.cli.main':<52} {base_rss:7.1f} MB")
    for target in (f"docker-archive:{archive}", f"docker:{tag}"):
        with tempfile.TemporaryDirectory() as d:
            rss, secs = peak_rss([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "-f", "json", "-q",
                                  "--cache-dir", d])
        verdict = "OK" if rss <= 200 else "OVER"
        print(f"{'peak RSS, cold, ' + target.split(':')[0]:<52} {rss:7.1f} MB   target <= 200 MB   {verdict}"
              f"   ({secs:.1f} s)")


if __name__ == "__main__":
    main()
