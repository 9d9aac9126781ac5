"""Flags users of Trivy and Grype expect, through the real CLI: --version, -h, shell completion, an
explicit --platform that the image does not match, --cache-dir/--no-cache and --timeout on scan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.registry import tar_bytes, write_oci_image, write_oci_layout

from containerguard import __version__
from containerguard.cli.main import main

CLI = [sys.executable, "-m", "containerguard.cli.main"]


def _layout(root: Path, arch: str = "amd64") -> Path:
    layer = tar_bytes([("srv/node_modules/lodash/package.json",
                        json.dumps({"name": "lodash", "version": "4.17.15"}).encode())])
    return write_oci_layout(root, [write_oci_image(root, [layer], arch=arch)], ref_name="1")


def test_version_help_and_completion() -> None:
    out = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == __version__
    out = subprocess.run([*CLI, "-h"], capture_output=True, text=True, check=True)
    assert "scan" in out.stdout and "--install-completion" in out.stdout
    out = subprocess.run([*CLI, "scan", "-h"], capture_output=True, text=True, check=True)
    for flag in ("--username", "--password", "--cache-dir", "--no-cache", "--timeout", "--platform",
                 "--skip-unreadable"):
        assert flag in out.stdout, flag
    out = subprocess.run([*CLI, "--show-completion"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "SHELL": "/bin/bash"})
    assert out.returncode == 0 and "complete" in out.stdout


def test_platform_that_matches_nothing_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = _layout(tmp_path / "img", arch="arm64")
    for cmd in (["sbom"], ["scan", "--scanners", "secret"]):
        capsys.readouterr()
        rc = main([*cmd, f"oci:{layout}:1", "--platform", "linux/amd64", "-q"])
        err = capsys.readouterr().err
        assert rc == 2 and "the image is linux/arm64" in err, err
        assert main([*cmd, f"oci:{layout}:1", "--platform", "linux/arm64", "-q", "-o", str(tmp_path / "o")]) == 0
    # no --platform: the single image is scanned whatever its architecture
    assert main(["sbom", f"oci:{layout}:1", "-q", "-o", str(tmp_path / "o")]) == 0


def test_scan_cache_dir_and_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = _layout(tmp_path / "img")
    cache = tmp_path / "cache"
    assert main(["scan", f"oci:{layout}:1", "--scanners", "secret", "--cache-dir", str(cache), "-q",
                 "-o", str(tmp_path / "o")]) == 0
    assert any(p.is_file() for p in cache.rglob("*"))
    before = sorted(p.name for p in cache.rglob("*"))
    assert main(["scan", f"oci:{layout}:1", "--scanners", "secret", "--no-cache", "-q",
                 "-o", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in cache.rglob("*")) == before
    capsys.readouterr()
    rc = main(["scan", f"oci:{layout}:1", "--scanners", "secret", "--no-cache", "--timeout", "0.000001", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "timed out after" in err
