"""The CI gate never passes over inputs it could not read (a YAML bomb, an unparseable manifest or
lockfile) unless --skip-unreadable says so; `config` takes --severity and --ignorefile like `scan`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main

BOMB = "a: &a [1,2,3,4,5,6,7,8,9]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True))
DOCKERFILE = "FROM debian:latest\nRUN apt-get install -y curl\n"


def _rc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(list(args))
    return rc, capsys.readouterr().err


def test_config_gate_fails_on_skipped_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nUSER 1000\nHEALTHCHECK NONE\n")
    rc, err = _rc(capsys, "config", str(tmp_path), "--fail-on", "CRITICAL", "-f", "json")
    assert rc == 1 and "bomb.yaml" in err and "1 input(s) could not be read" in err
    rc, err = _rc(capsys, "config", str(tmp_path), "--fail-on", "CRITICAL", "-f", "json", "--skip-unreadable")
    assert rc == 0, err
    rc, _ = _rc(capsys, "config", str(tmp_path), "-f", "json")  # no gate asked: no failure
    assert rc == 0


def test_scan_gate_fails_on_unreadable_lockfile_and_manifest(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {')
    rc, err = _rc(capsys, "scan", f"dir:{tmp_path}", "--scanners", "misconfig,secret", "--fail-on", "HIGH")
    assert rc == 0, err  # the lockfile is read only by the vuln scanner, not run here
    db = str(vulnmirror.built_db())
    rc, err = _rc(capsys, "scan", f"dir:{tmp_path}", "--scanners", "vuln", "--db", db, "--fail-on", "HIGH")
    assert rc == 1 and "package-lock.json" in err and "could not be read" in err
    rc, err = _rc(capsys, "scan", f"dir:{tmp_path}", "--scanners", "vuln", "--db", db, "--fail-on", "HIGH",
                  "--skip-unreadable")
    assert rc == 0, err
    (tmp_path / "k8s.yaml").write_text(BOMB)
    rc, err = _rc(capsys, "scan", f"dir:{tmp_path}", "--scanners", "misconfig", "--fail-on", "HIGH")
    assert rc == 1 and "could not be read" in err
    rc, err = _rc(capsys, "scan", f"dir:{tmp_path}", "--scanners", "misconfig", "--fail-on", "HIGH",
                  "--skip-unreadable")
    assert rc == 0, err


def test_config_severity_and_ignorefile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    out = tmp_path / "r.json"
    assert main(["config", str(tmp_path / "Dockerfile"), "-f", "json", "-o", str(out)]) == 0
    every = {f["id"]: f["severity"] for f in json.loads(out.read_text())["findings"]}
    assert "CG-DF-007" in every and "LOW" in every.values()
    assert main(["config", str(tmp_path / "Dockerfile"), "-f", "json", "-o", str(out), "--severity", "MEDIUM,HIGH"]) == 0
    assert {f["severity"] for f in json.loads(out.read_text())["findings"]} <= {"MEDIUM", "HIGH"}
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("ignores:\n  - id: CG-DF-007\n    reason: pinned by digest in CI\n")
    assert main(["config", str(tmp_path / "Dockerfile"), "-f", "json", "-o", str(out), "--ignorefile", str(ignore)]) == 0
    doc = json.loads(out.read_text())
    assert "CG-DF-007" not in {f["id"] for f in doc["findings"]}
    assert "CG-DF-007" in {f["id"] for f in doc["suppressed"]}
    rc, err = _rc(capsys, "config", str(tmp_path), "--ignorefile", str(tmp_path / "missing.yaml"))
    assert rc == 2 and "missing.yaml" in err
