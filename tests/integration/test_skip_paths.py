"""--skip-dirs / --skip-files through the real CLI: a vulnerable package or lockfile and a secret under a
skipped path are not read (so not reported) by `scan`, `sbom` or `config`; a warm layer cache never gives
one skip set's answer to another; hostile patterns are one-line usage errors (exit 2); the options come
from containerguard.yaml and CONTAINERGUARD_* like every other option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg
from tests.fixtures import vulnmirror

from containerguard.cli.main import main

AWS_ID = "AKIA" + "Q7ZK2M4XW5TRN3VB"
AWS_SECRET = "Qm7vX2pL9sK4wT8rN1cZ5bH3jF6dG0yU2eA7iO4k"
ENV_FILE = f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
SITE = "usr/lib/python3.11/site-packages"
OS_RELEASE = 'PRETTY_NAME="Alpine Linux v3.19"\nNAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    rc = main(list(args))
    cap = capsys.readouterr()
    try:
        doc = json.loads(cap.out)
    except ValueError:
        doc = None
    return rc, doc, cap.err


def _seen(doc: Any) -> tuple[set[str], set[str]]:
    """(names of packages with a vulnerability, paths of secret findings)."""
    vulns = {f["package"]["name"] for f in doc["findings"] if f.get("package")}
    secrets = {f["path"] for f in doc["findings"] if f["kind"] == "secret"}
    return vulns, secrets


def test_dir_target_skips_lockfile_and_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(vulnmirror.built_db())
    root = tmp_path / "proj"
    (root / "third_party" / "lib").mkdir(parents=True)
    (root / "third_party" / "lib" / "requirements.txt").write_text("requests==2.19.0\n")
    (root / "third_party" / ".env").write_text(ENV_FILE)
    (root / "requirements.txt").write_text("urllib3==1.24.1\n")
    base = ["scan", f"dir:{root}", "--db", db, "-f", "json", "-q", "--scanners", "vuln,secret"]
    rc, doc, err = _run(capsys, *base)
    assert rc == 0, err
    vulns, secrets = _seen(doc)
    assert {"requests", "urllib3"} <= vulns and secrets == {"third_party/.env"}
    for flags in (["--skip-dirs", "third_party"], ["--skip-dirs", "nothing,**/third_party"],
                  ["--skip-files", "third_party/lib/requirements.txt", "--skip-files", "**/.env"]):
        rc, doc, err = _run(capsys, *base, *flags)
        assert rc == 0, err
        vulns, secrets = _seen(doc)
        assert "requests" not in vulns and "urllib3" in vulns and not secrets, flags
    # `sbom` leaves the skipped lockfile out of the inventory too
    rc, doc, err = _run(capsys, "sbom", f"dir:{root}", "-f", "json", "-q", "--skip-dirs", "./third_party/")
    assert rc == 0, err
    assert {p["name"] for p in doc["packages"]} == {"urllib3"}


def _image(root: Path) -> Path:
    """An OCI layout: a vulnerable Python package and an AWS key under opt/third_party, another package outside."""
    files: list[tuple[Any, ...]] = [
        ("etc/os-release", OS_RELEASE),
        (f"{SITE}/urllib3-1.24.1.dist-info/METADATA", reg._metadata("urllib3", "1.24.1")),
        (f"opt/third_party/{SITE}/requests-2.19.0.dist-info/METADATA", reg._metadata("requests", "2.19.0")),
        ("opt/third_party/.env", ENV_FILE),
    ]
    desc = reg.write_oci_image(root, [reg.tar_bytes(files)], how="gzip", history=[{"created_by": "ADD app"}])
    return reg.write_oci_layout(root, [desc], "1")


def test_image_skips_and_the_warm_cache_answers_right(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(vulnmirror.built_db())
    target = f"oci:{_image(tmp_path / 'img')}:1"
    cache = str(tmp_path / "cache")
    base = ["scan", target, "--db", db, "-f", "json", "-q", "--cache-dir", cache, "--scanners", "vuln,secret"]
    full = ({"urllib3", "requests"}, {"opt/third_party/.env"})
    skipped = ({"urllib3"}, set[str]())
    # cold without skips, then with (a cache miss), then both warm: each answer stays its own
    for flags, want in (([], full), (["--skip-dirs", "opt/third_party"], skipped), ([], full),
                        (["--skip-dirs", "opt/third_party"], skipped), (["--skip-files", "opt/**"], skipped),
                        (["--skip-files", f"opt/third_party/{SITE}/*/METADATA"], ({"urllib3"}, {"opt/third_party/.env"}))):
        rc, doc, err = _run(capsys, *base, *flags)
        assert rc == 0, err
        vulns, secrets = _seen(doc)
        assert (vulns & {"urllib3", "requests"}, secrets) == want, flags
    entries = list((tmp_path / "cache" / "layers").rglob("*.json"))
    assert len(entries) == 4  # one layer walk per distinct skip set
    rc, doc, err = _run(capsys, "sbom", target, "-f", "json", "-q", "--cache-dir", cache, "--skip-dirs", "opt")
    assert rc == 0, err
    assert {p["name"] for p in doc["packages"]} & {"urllib3", "requests"} == {"urllib3"}


def test_a_link_into_a_skipped_dir_is_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A package file outside the skipped directory that is a symlink into it: the target is not read."""
    files: list[tuple[Any, ...]] = [
        ("etc/os-release", OS_RELEASE),
        ("opt/real/METADATA", reg._metadata("jinja2", "2.10")),
        (f"{SITE}/jinja2-2.10.dist-info/METADATA", tarfile.SYMTYPE, "/opt/real/METADATA"),
    ]
    layout = tmp_path / "img"
    desc = reg.write_oci_image(layout, [reg.tar_bytes(files)], how=None)
    target = f"oci:{reg.write_oci_layout(layout, [desc], '1')}:1"
    cache = str(tmp_path / "cache")
    for flags, want in (([], {"jinja2"}), (["--skip-dirs", "opt/real"], set()), ([], {"jinja2"})):
        rc, doc, err = _run(capsys, "sbom", target, "-f", "json", "-q", "--cache-dir", cache, *flags)
        assert rc == 0, err
        assert {p["name"] for p in doc["packages"]} & {"jinja2"} == want, flags


@pytest.mark.parametrize("pattern", ["", "..", "a/../b", "vendor,,x", "."])
def test_hostile_patterns_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               pattern: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    for cmd in (["scan", f"dir:{tmp_path}", "--scanners", "secret"], ["sbom", f"dir:{tmp_path}"],
                ["config", str(tmp_path)]):
        for opt in ("--skip-dirs", "--skip-files"):
            rc, _doc, err = _run(capsys, *cmd, opt, pattern)
            lines = err.strip().splitlines()
            assert rc == 2 and len(lines) == 1 and opt in lines[0], (cmd, opt, err)


def test_config_skip_dirs_and_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "charts" / "tests").mkdir(parents=True)
    (tmp_path / "charts" / "tests" / "Dockerfile").write_text("FROM debian:latest\nRUN apt-get install -y curl\n")
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nUSER 1000\nHEALTHCHECK NONE\n")

    def dockerfiles(doc: Any) -> set[str]:
        return {Path(f["path"]).relative_to(tmp_path).as_posix() for f in doc["findings"]}

    rc, doc, err = _run(capsys, "config", str(tmp_path), "-f", "json")
    assert rc == 0, err
    assert "charts/tests/Dockerfile" in dockerfiles(doc)
    rc, doc, err = _run(capsys, "config", str(tmp_path), "-f", "json", "--skip-dirs", "**/tests")
    assert rc == 0, err
    assert "charts/tests/Dockerfile" not in dockerfiles(doc) and "checked 1 Dockerfiles" in err
    # `scan dir:` runs the same discovery for its misconfiguration scanner, with the same skips
    rc, doc, err = _run(capsys, "scan", f"dir:{tmp_path}", "--scanners", "misconfig", "-f", "json", "-q")
    assert rc == 0, err
    assert "charts/tests/Dockerfile" in {f["path"] for f in doc["findings"]}
    rc, doc, err = _run(capsys, "scan", f"dir:{tmp_path}", "--scanners", "misconfig", "-f", "json", "-q",
                        "--skip-files", "charts/**/Dockerfile")
    assert rc == 0, err
    assert not doc["findings"]  # the root Dockerfile is clean; the skipped one was not read
    # the same option from the environment and from containerguard.yaml (the settings mechanism)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERGUARD_")}
    cli = [sys.executable, "-m", "containerguard.cli.main", "config", ".", "-f", "json"]
    out = subprocess.run(cli, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**clean, "CONTAINERGUARD_SKIP_DIRS": "x,charts"})
    assert out.returncode == 0 and "checked 1 Dockerfiles" in out.stderr, out.stderr
    (tmp_path / "containerguard.yaml").write_text("skip-dirs: [charts/*]\n")
    out = subprocess.run(cli, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=clean)
    assert out.returncode == 0 and "checked 1 Dockerfiles" in out.stderr, out.stderr
    out = subprocess.run([*cli, "--skip-dirs", "none"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**clean, "CONTAINERGUARD_CONFIG_SKIP_DIRS": "/abs"})
    assert out.returncode == 0 and "checked 2 Dockerfiles" in out.stderr, out.stderr  # the flag wins
