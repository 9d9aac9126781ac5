"""Image configuration and file checks on a real image built by the real Docker Engine.

FROM the debootstrap'd Debian image: a setuid and a setgid file copied in, a 0777 directory and a
1777 one, a private key and a certificate, a password in ENV, USER root, EXPOSE 22, no HEALTHCHECK.
The inventory walker (build_inventory) runs ImageFileAnalyzer over the layers; check_image reports.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env

from containerguard.cli.main import main
from containerguard.misconfig.image import ImageFileAnalyzer, check_image
from containerguard.scanner import scan_target
from containerguard.scanner.inventory import build_inventory

pytestmark = pytest.mark.docker

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQsw\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = env.debian_image()
    dockerfile = (
        f"FROM {base}\n"
        "COPY tool /usr/local/bin/suidtool\n"
        "COPY tool /usr/local/bin/sgidtool\n"
        "COPY server.key server.crt /etc/app/\n"
        "RUN chmod 4755 /usr/local/bin/suidtool && chmod 2755 /usr/local/bin/sgidtool"
        " && mkdir -p /srv/drop /srv/shared && chmod 0777 /srv/drop && chmod 1777 /srv/shared\n"
        "ENV DB_PASSWORD=hunter2hunter2 APP_MODE=prod\n"
        "USER root\n"
        "EXPOSE 22 8080\n"
        'CMD ["/usr/local/bin/suidtool"]\n'
    )
    tag = "cg-test/misconfig-image:" + hashlib.sha256(dockerfile.encode()).hexdigest()[:12]
    with env.machine_lock("misconfig-image"):
        if not env.image_exists(tag):
            ctx = tmp_path_factory.mktemp("ctx")
            (ctx / "Dockerfile").write_text(dockerfile)
            (ctx / "tool").write_text("#!/bin/sh\necho tool\n")
            (ctx / "server.key").write_text(KEY)
            (ctx / "server.crt").write_text(CERT)
            subprocess.run(["docker", "build", "-q", "-t", tag, str(ctx)], check=True, capture_output=True, timeout=600)
    return tag


def test_check_image_through_the_inventory_walker(image: str) -> None:
    inv = build_inventory(f"docker:{image}", analyzers=[ImageFileAnalyzer()], cache=None)
    findings = check_image(inv)
    by_id: dict[str, list] = {}
    for f in findings:
        by_id.setdefault(f.id, []).append(f)
    assert by_id["CG-IMG-001"][0].path == "config.User"
    secret = by_id["CG-IMG-002"]
    assert len(secret) == 1 and secret[0].match.startswith("DB_PASSWORD=hu")
    assert "hunter2hunter2" not in secret[0].match + secret[0].description
    assert "22/tcp" in by_id["CG-IMG-003"][0].description
    assert "CG-IMG-004" in by_id
    suid = {f.path: f for f in by_id["CG-IMG-005"]}
    # only the files this image added: Debian's own setuid binaries (su, mount, passwd ...) are in the base layer
    assert set(suid) == {"/usr/local/bin/suidtool", "/usr/local/bin/sgidtool"}
    assert all(f.layer is not None and f.layer.index > 0 for f in suid.values())
    assert suid["/usr/local/bin/suidtool"].extra["mode"] == "4755"
    assert [f.path for f in by_id["CG-IMG-007"]] == ["/etc/app/server.key"]
    assert [f.path for f in by_id["CG-IMG-008"]] == ["/etc/app/server.crt"]
    # the base image really has setuid binaries: the analyzer saw them, check_image dropped them
    assert any(f.id == "CG-IMG-005" and f.layer is not None and f.layer.index == 0 for f in inv.file_findings)


def test_world_writable_directories(image: str) -> None:
    # the misconfiguration scanner alone, through the pipeline's one entry point (one walk of the layers)
    found = {f.path: f for f in scan_target(f"docker:{image}", scanners={"misconfig"}, cache=None).findings
             if f.id == "CG-IMG-006"}
    assert "/srv/drop" in found and found["/srv/drop"].extra["mode"] == "0777"
    assert "/srv/shared" not in found  # sticky bit set
    assert "/tmp" not in found


def test_config_cli_on_an_image(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "--image", f"docker:{image}", "--format", "json", "--fail-on", "high"])
    out = capsys.readouterr().out
    assert code == 1
    for cid in ("CG-IMG-001", "CG-IMG-002", "CG-IMG-005", "CG-IMG-006", "CG-IMG-007"):
        assert cid in out
    assert "hunter2hunter2" not in out
