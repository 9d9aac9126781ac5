"""Alpine (secdb) and RPM (OSV) matching end to end: a database built by `db update` from a mirror on
127.0.0.1, then `scan` of a dir: target (Alpine) and of a CycloneDX SBOM (AlmaLinux rpm packages)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("distro-db")
    mirror = vulnmirror.subset(d / "mirror", (), ("v3.19",))
    alsa = {"id": "ALSA-2099:0001", "modified": "2024-01-01T00:00:00Z", "summary": "openssl security update",
            "aliases": ["CVE-2099-1000"],
            "affected": [{"package": {"ecosystem": "AlmaLinux:9", "name": "openssl-libs"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                                                                     {"fixed": "1:3.0.7-25.el9_3"}]}]}]}
    (mirror / "osv" / "AlmaLinux").mkdir(parents=True)
    with zipfile.ZipFile(mirror / "osv" / "AlmaLinux" / "all.zip", "w") as zf:
        zf.writestr("ALSA-2099:0001.json", json.dumps(alsa))
    out = d / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(out), "-q"]) == 0
    return out


def _scan(capsys: pytest.CaptureFixture[str], target: str, db: Path) -> dict:
    capsys.readouterr()
    assert main(["scan", target, "--db", str(db), "-f", "json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def _apk_root(root: Path, entries: list[tuple[str, str, str]]) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
    (root / "lib" / "apk" / "db").mkdir(parents=True)
    (root / "lib" / "apk" / "db" / "installed").write_text("".join(
        f"C:Q1abc=\nP:{name}\nV:{ver}\nA:x86_64\nS:1\nI:1\nT:test\nU:https://example.org\nL:MIT\no:{origin}\n\n"
        for name, ver, origin in entries))
    return root


def test_alpine_secdb_by_origin_and_branch(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _apk_root(tmp_path / "old", [("libcurl", "8.3.0-r0", "curl"), ("curl", "8.3.0-r0", "curl")])
    doc = _scan(capsys, f"dir:{root}", db)
    hits = [f for f in doc["findings"] if f["id"] == "CVE-2023-38545"]
    assert {f["package"]["name"] for f in hits} == {"curl", "libcurl"}  # matched through the origin
    assert all(f["fixed_versions"] == ["8.4.0-r0"] and f["extra"]["ecosystem"] == "Alpine:v3.19" for f in hits)
    # secfixes "0" means never affected on Alpine: CVE-2021-22897 is listed under "0" for curl
    assert not [f for f in doc["findings"] if f["id"] == "CVE-2021-22897"]
    new = _apk_root(tmp_path / "new", [("curl", "8.4.0-r0", "curl")])
    assert not [f for f in _scan(capsys, f"dir:{new}", db)["findings"] if f["id"] == "CVE-2023-38545"]


def _bom(path: Path, version: str) -> Path:
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "operating-system", "name": "almalinux", "version": "9.3"},
        {"type": "library", "name": "openssl-libs", "version": version,
         "purl": f"pkg:rpm/almalinux/openssl-libs@{version}?arch=x86_64&epoch=1&distro=almalinux-9.3"}]}))
    return path


def test_rpm_epoch_version_release(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _scan(capsys, f"sbom:{_bom(tmp_path / 'old.json', '3.0.7-24.el9')}", db)
    (f,) = doc["findings"]
    assert f["id"] == "CVE-2099-1000" and "ALSA-2099:0001" in f["aliases"]
    assert f["fixed_versions"] == ["1:3.0.7-25.el9_3"] and f["extra"]["installed"] == "1:3.0.7-24.el9"
    # rpm ordering: 25.el9_3 < 25.el9_4 and 3.0.7-25.el9_3 with epoch 1 is the fix itself
    for ver in ("3.0.7-25.el9_3", "3.0.7-25.el9_4", "3.0.10-1.el9"):
        assert _scan(capsys, f"sbom:{_bom(tmp_path / 'new.json', ver)}", db)["findings"] == []
