"""Through the CLI: hostile names and references in, valid output or one clear line out.

* a layer whose file names are not UTF-8 (a secret in ``etc/caf\\xe9.env``) gives valid UTF-8 in every
  format (JSON, SARIF and CycloneDX parse; SARIF once crashed with exit 3, JSON/HTML/table held a raw 0xff);
* ``scan sbom:FILE`` reads FILE whatever the scanners (a missing or broken SBOM once passed with exit 0
  under ``--scanners secret``);
* a target that is no image reference exits 2 with one line, before any lookup.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.cli.main import main

KEY = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLQ\n"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = reg.tar_bytes([("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"), ("etc/caf\udce9.env", KEY),
                           ("app/\udcff\udcfe/ln", tarfile.SYMTYPE, "../../etc/os-release")],
                          fmt=tarfile.GNU_FORMAT)
    return reg.write_docker_archive(tmp_path_factory.mktemp("img") / "img.tar", [layer])


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "cyclonedx", "html"])
def test_names_not_utf8_give_valid_output_in_every_format(image: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rc, out, err = _run(capsys, "scan", f"docker-archive:{image}", "--scanners", "secret", "-f", fmt, "--no-cache")
    assert rc == 0, err
    out.encode("utf-8")  # strict: raises on a lone surrogate (a byte that is not UTF-8 on the way out)
    err.encode("utf-8")
    assert "2 names that are not valid UTF-8 (shown with \\xNN escapes)" in err
    if fmt == "json":
        found = [f for f in json.loads(out)["findings"] if f["kind"] == "secret"]
        assert [f["path"] for f in found] == ["etc/caf\\xe9.env"]
    elif fmt == "sarif":
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in json.loads(out)["runs"][0]["results"]]
        assert any("caf" in u for u in uris)
    elif fmt == "cyclonedx":
        assert json.loads(out)["bomFormat"] == "CycloneDX"
    else:
        assert "caf\\xe9.env" in out


def test_sbom_names_not_utf8(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("json", "cyclonedx", "spdx-json", "table"):
        rc, out, err = _run(capsys, "sbom", f"docker-archive:{image}", "-f", fmt, "--no-cache")
        assert rc == 0, err
        out.encode("utf-8")
        if fmt != "table":
            json.loads(out)


@pytest.mark.parametrize("scanners", ["secret", "misconfig", "secret,misconfig"])
def test_scan_sbom_target_is_read_whatever_the_scanners(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       scanners: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"bomFormat": "CycloneDX", "components": [')
    for target, expected in ((tmp_path / "missing.json", "cannot read"), (broken, "not JSON")):
        rc, out, err = _run(capsys, "scan", f"sbom:{target}", "--scanners", scanners, "-f", "json",
                            "--db", str(tmp_path / "no.db"))
        assert rc == 2, (out, err)
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1 and expected in err


@pytest.mark.parametrize("target,expected", [
    ("sbom:/nonexistent/x.json", "unknown scheme 'sbom'"),
    ("docker-archve:/nonexistent/x.tar", "unknown scheme 'docker-archve'"),
    ("./nonexistent-rootfs", "is a path, not an image name"),
    ("..x/y", "invalid registry host"),
    ("docker:a/../../containers/x", "invalid repository name"),  # never a daemon URL outside /images/
    ("a/../../containers/x", "invalid repository name"),
])
def test_targets_that_are_no_reference_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], target: str,
                                                            expected: str) -> None:
    rc, out, err = _run(capsys, "sbom", target, "--no-cache")
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["fifo", "devzero", "dir"])
def test_named_inputs_that_are_no_regular_file(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               kind: str) -> None:
    """A FIFO, /dev/zero or a directory given as the SBOM, the VEX document or the archive: one line, exit 2,
    at once (a FIFO or /dev/zero once hung ``scan sbom:`` and ``--vex``)."""
    p = tmp_path / f"input-{kind}"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "devzero":
        p.symlink_to("/dev/zero")
    else:
        p.mkdir()
    for args in (["scan", f"sbom:{p}", "--scanners", "secret"],
                 ["scan", f"docker-archive:{image}", "--scanners", "secret", "--vex", str(p), "--no-cache"],
                 ["sbom", f"docker-archive:{p}", "--no-cache"], ["sbom", f"oci-archive:{p}", "--no-cache"]):
        rc, out, err = _run(capsys, *args)
        assert rc == 2 and out == "", (args, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and "not a regular file" in err, (args, err)


@pytest.mark.parametrize("doc", ['{"spdxVersion": "SPDX-2.3", "packages": 5}',
                                 '{"bomFormat": "CycloneDX", "components": {"a": 1}}'])
def test_sbom_whose_package_list_is_no_list(tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(doc)
    rc, out, err = _run(capsys, "scan", f"sbom:{f}", "--scanners", "secret", "-f", "json")
    assert rc == 2 and out == "" and err.startswith(f"error: {f}: not valid ") and err.count("\n") == 1
