"""``-o FILE``: the report replaces FILE whole or not at all, and never replaces the scanned input.

* ``-o`` naming the image archive or SBOM being scanned once overwrote it with the report (the image was
  lost); it is refused before the scan, exit 2;
* a write that fails midway (disk full; here a file-size limit) once left a truncated report in place of
  the previous one; the previous report now stays whole and no partial file is left;
* ``-o /dev/stdout`` (not a regular file) is still written in place.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.cli.main import main


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = [("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")]
    files += [(f"app/k{i}.env", f"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPL{chr(70 + i)}\n") for i in range(20)]
    return reg.write_docker_archive(tmp_path_factory.mktemp("img") / "img.tar", [reg.tar_bytes(files)])


def test_output_naming_the_input_is_refused(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = image.read_bytes()
    sbom = tmp_path / "in.json"
    assert main(["sbom", f"docker-archive:{image}", "-f", "json", "-o", str(sbom), "--no-cache"]) == 0
    sbom_before = sbom.read_bytes()
    link = tmp_path / "same.tar"
    link.symlink_to(image)  # another name for the same file
    for args in (["scan", f"docker-archive:{image}", "--scanners", "secret", "-o", str(link)],
                 ["sbom", f"docker-archive:{image}", "-o", str(image)],
                 ["scan", f"sbom:{sbom}", "--scanners", "secret", "-o", str(sbom)]):
        capsys.readouterr()
        assert main([*args, "--no-cache"] if args[0] == "sbom" else args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: -o ") and "is the scanned input" in err and err.count("\n") == 1
    assert image.read_bytes() == before and sbom.read_bytes() == sbom_before


def test_failed_write_keeps_the_previous_report(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text('{"previous": true}\n')

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # the report is larger

    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "scan", f"docker-archive:{image}",
                           "--scanners", "secret", "-f", "json", "-o", str(out), "--no-cache"],
                          capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: cannot write {out}: File too large"
    assert json.loads(out.read_text()) == {"previous": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no partial temporary file left


def test_report_file_written_whole_with_the_umask_mode(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    old = os.umask(0o027)
    try:
        assert main(["scan", f"docker-archive:{image}", "--scanners", "secret", "-f", "json", "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert len(json.loads(out.read_text())["findings"]) == 20
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_output_to_a_character_device_is_written_in_place(image: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{image}",
                           "-f", "json", "-o", "/dev/stdout", "--no-cache"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["os"]["family"] == "alpine"
