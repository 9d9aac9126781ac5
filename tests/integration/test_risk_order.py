"""Prioritisation through `scan`: a vendor's "unimportant" rating caps the impact (a CVSS 9.8 the
distribution calls unimportant never outranks a CRITICAL of the same likelihood), and every finding says
why it ranks where it does (extra.risk_why)."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
CVSS98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
CVSS91 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"


def _adv(vid: str, pkg: str, urgency: str, vector: str) -> dict:
    return {"schema_version": "1.6.0", "id": vid, "modified": "2024-01-01T00:00:00Z",
            "published": "2024-01-01T00:00:00Z", "summary": f"{vid} in {pkg}", "aliases": [],
            "severity": [{"type": "CVSS_V3", "score": vector}],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": pkg},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0-1"}]}],
                          "ecosystem_specific": {"urgency": urgency}}]}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = vulnmirror.subset(tmp_path_factory.mktemp("mirror") / "m", ecosystems=(), alpine=())
    (root / "osv" / "Debian").mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for a in (_adv("CVE-2099-1111", "libfoo", "unimportant", CVSS98),
                  _adv("CVE-2099-2222", "libbar", "high", CVSS91)):
            zf.writestr(f"{a['id']}.json", json.dumps(a))
    (root / "osv" / "Debian" / "all.zip").write_bytes(buf.getvalue())
    out = tmp_path_factory.mktemp("db") / "db.sqlite"
    with vulnmirror.serve(root) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(out), "--quiet"]) == 0
    return out


def test_unimportant_never_outranks_critical(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text(OS_RELEASE)
    (tmp_path / "var" / "lib" / "dpkg").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "dpkg" / "status").write_text("".join(
        f"Package: {p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n"
        f"Maintainer: x <x@example.org>\nDescription: test\n\n" for p in ("libfoo", "libbar")))
    capsys.readouterr()
    assert main(["scan", f"dir:{tmp_path}", "--db", str(db), "-f", "json", "-q", "--scanners", "vuln"]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    assert [f["package"]["name"] for f in found] == ["libbar", "libfoo"]  # report order = risk order
    foo, bar = found[1], found[0]
    assert foo["severity"] == "NEGLIGIBLE" and foo["cvss_score"] == 9.8
    assert foo["risk"] < bar["risk"]
    assert "capped: rated NEGLIGIBLE" in foo["extra"]["risk_why"]
    assert bar["extra"]["risk_why"].startswith("impact 0.91 (CVSS 9.1")
    assert bar["extra"]["risk_why"].endswith(f"= {bar['risk']}")
