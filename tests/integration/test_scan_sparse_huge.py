"""A tar entry that declares 10 GiB (a GNU/PAX sparse file: 10 KiB of layer) is skipped in the stream by
every path that could read it, never spooled: the same-layer walk, a symlink to it met earlier in the same
layer, and a symlink in a later layer (the targeted second pass). The scan runs under a 64 MiB file-size
limit, so a copy of the holes to a temporary file fails it (it once wrote 10 GiB and took 80 s)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

KEY = b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEQ\n"


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


def _sparse_layer(tmp: Path, fmt: str) -> bytes:
    stage = tmp / f"stage-{fmt}"
    (stage / "etc").mkdir(parents=True)
    (stage / "etc/os-release").symlink_to("../data/disk.env")  # met before its target: the same-pass link
    (stage / "data").mkdir()
    with open(stage / "data/disk.env", "wb") as fh:
        fh.write(KEY)
        fh.truncate(10 << 30)
    (stage / "etc/alpine-release").write_text("3.19.1\n")
    out = tmp / f"layer-{fmt}.tar"
    subprocess.run(["tar", "-C", str(stage), f"--format={fmt}", "--sparse", "-cf", str(out), "etc", "data"],
                   check=True)
    (stage / "data/disk.env").unlink()
    data = out.read_bytes()
    assert len(data) < 64 << 10  # the layer is small; only its declared size is huge
    return data


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_declared_ten_gib_is_skipped_never_spooled(tmp_path: Path, fmt: str) -> None:
    upper = reg.tar_bytes([("app/.env", tarfile.SYMTYPE, "/data/disk.env")])  # a later layer's link to it
    archive = reg.write_docker_archive(tmp_path / "img.tar", [_sparse_layer(tmp_path, fmt), upper])
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    stderr = {}
    for cmd in (["scan", f"docker-archive:{archive}", "--scanners", "secret,misconfig", "-f", "json"],
                ["sbom", f"docker-archive:{archive}", "-f", "json"]):
        proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", *cmd, "--no-cache"], env=env,
                              capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        stderr[cmd[0]] = proc.stderr
    assert f"data/disk.env: {10 << 30} bytes, larger than the secret analyzer's cap; skipped" in stderr["scan"]


def test_no_room_to_spool_a_wanted_file_is_one_line(tmp_path: Path) -> None:
    """A file an analyzer wants, over the in-memory spool size, when its temporary copy cannot be written
    (here a 4 MiB file-size limit; a full disk alike): one line naming the directory, exit 2 (was exit 3)."""
    meta = "Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n\n" + "x" * (20 << 20)
    archive = reg.write_docker_archive(tmp_path / "img.tar", [reg.tar_bytes(
        [("usr/lib/python3.11/site-packages/bigpkg-1.0.dist-info/METADATA", meta)])])

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))

    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{archive}",
                           "--no-cache"], env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300, preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot hold a ") and f"for analysis in {tmp_path}: File too large" in proc.stderr
    assert proc.stderr.count("\n") == 1
