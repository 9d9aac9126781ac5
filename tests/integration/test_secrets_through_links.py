"""A secret or private key is reported once, at the file that holds it: a symlink or hard link to it (in the
same layer, before or after it, or in a later layer) once gave a second finding at the link's path. Links
are still followed where that is their use: an os-release reached through a symlink is read."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.cli.main import main

KEY = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLQ\n"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"


def test_links_to_a_secret_do_not_repeat_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lower = reg.tar_bytes([
        ("app/early.env", tarfile.SYMTYPE, "../srv/app.env"),  # met before its target
        ("srv/app.env", KEY), ("srv/server.key", PEM),
        ("app/late.env", tarfile.SYMTYPE, "/srv/app.env"),
        ("app/hard.env", tarfile.LNKTYPE, "srv/app.env"),
        ("usr/lib/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
        ("etc/os-release", tarfile.SYMTYPE, "../usr/lib/os-release"),
    ])
    upper = reg.tar_bytes([("opt/upper.env", tarfile.SYMTYPE, "/srv/app.env"),
                           ("opt/tls.key", tarfile.SYMTYPE, "/srv/server.key")])
    archive = reg.write_docker_archive(tmp_path / "img.tar", [lower, upper])
    capsys.readouterr()
    assert main(["scan", f"docker-archive:{archive}", "--scanners", "secret,misconfig", "-f", "json",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    data = json.loads(capsys.readouterr().out)
    found = sorted((f["id"], f["path"].lstrip("/")) for f in data["findings"] if f["kind"] == "secret"
                   or f["id"] == "CG-IMG-007")
    assert found == [("aws-access-key-id", "srv/app.env"), ("private-key", "srv/server.key")]
    assert main(["sbom", f"docker-archive:{archive}", "-f", "json", "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["os"]["family"] == "alpine"  # the os-release link is followed
