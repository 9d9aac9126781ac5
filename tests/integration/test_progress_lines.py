"""Progress when the output is not a terminal (CI logs): plain lines on stderr for `sbom`, `scan` and
`db update`, none with -q, none for work shorter than the interval. Run as a subprocess, so stderr
really is a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror
from tests.fixtures.registry import tar_bytes, write_oci_image, write_oci_layout

CLI = [sys.executable, "-m", "containerguard.cli.main"]


def _layout(root: Path) -> Path:
    layers = [tar_bytes([("srv/node_modules/lodash/package.json",
                          json.dumps({"name": "lodash", "version": "4.17.15"}).encode())]),
              tar_bytes([("etc/motd", b"hello\n")])]
    return write_oci_layout(root, [write_oci_image(root, layers)], ref_name="1")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # every line from the start (the default waits 5 s, so quick work leaves a clean log)
    env = {**os.environ, "CONTAINERGUARD_PROGRESS_SECONDS": "0"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def test_sbom_and_scan_progress_lines(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "img")
    for cmd in (["sbom", "--no-cache"], ["scan", "--scanners", "secret", "--no-cache"]):
        out = _run(*cmd, f"oci:{layout}:1", "-o", str(tmp_path / "o"))
        assert out.returncode == 0, out.stderr
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith(f"{cmd[0]} oci:")]
        assert any("layer 1/2: reading" in ln for ln in lines), out.stderr
        assert any("layer 2/2: done" in ln for ln in lines)
        assert "\x1b" not in out.stderr  # plain lines, no bar
        quiet = _run(*cmd, f"oci:{layout}:1", "-o", str(tmp_path / "o"), "-q")
        assert quiet.returncode == 0 and "layer" not in quiet.stderr
        quick = subprocess.run([*CLI, *cmd, f"oci:{layout}:1", "-o", str(tmp_path / "o")], capture_output=True,
                               text=True, timeout=300)  # the default interval: a quick run prints no progress
        assert quick.returncode == 0 and "layer" not in quick.stderr


def test_db_update_progress_lines(tmp_path: Path) -> None:
    root = vulnmirror.subset(tmp_path / "mirror", ecosystems=("Hex",), alpine=())
    with vulnmirror.serve(root) as (base, _h):
        out = _run("db", "update", "--mirror", base, "--db", str(tmp_path / "db.sqlite"))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("db update: ")]
    assert any(ln.startswith("db update: fetch ") for ln in lines), out.stderr
    assert any(ln.startswith("db update: build") for ln in lines), out.stderr


def test_config_progress_lines(tmp_path: Path) -> None:
    """`config` over a directory: "N/M files" lines on stderr (an escape sequence in a file name shown
    literally), the last one when all are done; none with -q, none for quick work at the default interval."""
    for i in range(3):
        (tmp_path / f"svc{i}.Dockerfile").write_text("FROM debian:12\nUSER 10001\n")
    (tmp_path / "odd\x1b[2J.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                              "spec: {containers: [{name: c, image: nginx}]}\n")
    out = _run("config", str(tmp_path), "-f", "json", "-o", str(tmp_path / "o.json"))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("config: ")]
    assert lines[-1] == "config: 4/4 files done", out.stderr
    assert any(ln.startswith("config: 1/4 files, at ") for ln in lines), out.stderr
    assert "\x1b" not in out.stderr and "odd\\x1b[2J.yaml" in out.stderr
    quiet = _run("config", str(tmp_path), "-f", "json", "-o", str(tmp_path / "o.json"), "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""
    quick = subprocess.run([*CLI, "config", str(tmp_path), "-f", "json", "-o", str(tmp_path / "o.json")],
                           capture_output=True, text=True, timeout=120)
    assert quick.returncode == 0 and "config: " not in quick.stderr and "checked 3 Dockerfiles" in quick.stderr


def test_config_image_progress_lines(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "img")
    out = _run("config", "--image", f"oci:{layout}:1", "-f", "json", "-o", str(tmp_path / "o.json"))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("config --image oci:")]
    # each layer read, or taken from the shared layer cache when an earlier run read it
    assert any(ln.endswith(("layer 1/2: reading", "layer 1/2: from the cache")) for ln in lines), out.stderr
    assert lines[-1].endswith("2 layer(s) done"), out.stderr
    quiet = _run("config", "--image", f"oci:{layout}:1", "-f", "json", "-o", str(tmp_path / "o.json"), "-q")
    assert quiet.returncode == 0 and "layer" not in quiet.stderr
