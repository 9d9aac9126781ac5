"""containerguard.yaml and CONTAINERGUARD_* variables give every option a default; the command line wins,
then the command's variable, the general variable, the file; a key no command knows is an input error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "containerguard.cli.main"]


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERGUARD_")}
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**clean, **env})


def test_config_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:latest\nRUN apt-get install -y curl\n")
    (tmp_path / "containerguard.yaml").write_text("severity: [MEDIUM]\nconfig:\n  format: json\n  quiet: true\n")
    out = _run(tmp_path, "config", "Dockerfile")
    assert out.returncode == 0, out.stderr
    assert {f["severity"] for f in json.loads(out.stdout)["findings"]} == {"MEDIUM"}
    assert out.stderr == ""  # quiet: true
    # the general variable beats the file, the command's variable beats the general one, flags beat all
    out = _run(tmp_path, "config", "Dockerfile", CONTAINERGUARD_SEVERITY="LOW")
    assert {f["severity"] for f in json.loads(out.stdout)["findings"]} == {"LOW"}
    out = _run(tmp_path, "config", "Dockerfile", CONTAINERGUARD_SEVERITY="LOW", CONTAINERGUARD_CONFIG_SEVERITY="MEDIUM")
    assert {f["severity"] for f in json.loads(out.stdout)["findings"]} == {"MEDIUM"}
    out = _run(tmp_path, "config", "Dockerfile", "--severity", "LOW", CONTAINERGUARD_CONFIG_SEVERITY="MEDIUM")
    assert {f["severity"] for f in json.loads(out.stdout)["findings"]} == {"LOW"}
    out = _run(tmp_path, "config", "Dockerfile", "-f", "sarif", CONTAINERGUARD_CONFIG_FORMAT="json")
    assert json.loads(out.stdout)["version"] == "2.1.0"


def test_unknown_key_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "containerguard.yaml").write_text("scan:\n  severty: HIGH\n")
    out = _run(tmp_path, "config", "Dockerfile")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: containerguard.yaml: scan.severty: no scan has this option"
    other = tmp_path / "elsewhere.yaml"
    other.write_text("format: json\n")
    (tmp_path / "containerguard.yaml").unlink()
    out = _run(tmp_path, "config", "Dockerfile", CONTAINERGUARD_CONFIG=str(other))
    assert out.returncode == 0 and json.loads(out.stdout)["findings"] is not None
