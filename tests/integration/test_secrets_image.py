"""Secrets in real image layers: the walker runs SecretAnalyzer over a docker-saved image built here;
findings carry the path and the layer (with its Dockerfile instruction); reports mask them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from containerguard.analyzer.secrets import SecretAnalyzer
from containerguard.model import FindingKind
from containerguard.report import get_reporter
from containerguard.scanner import scan_target
from containerguard.scanner.inventory import build_inventory
from containerguard.secrets import scan_directory, scan_image_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "report"))
from report_schemas import errors
from tests.fixtures import env

AWS_ID = "AKIA" + "Q7ZK2M4XW5TRN3VB"
AWS_SECRET = "Qm7vX2pL9sK4wT8rN1cZ5bH3jF6dG0yU2eA7iO4k"
GITLAB = "glpat-" + "Vx9Lm2Qb7Tk4Rw8Zp1Nc"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "secrets" / "corpus"

DOCKERFILE = f"""\
FROM {env.DEBIAN_IMAGE}
COPY app/ /app/
RUN echo '{GITLAB}' > /root/.gitlab-token && chmod 600 /root/.gitlab-token
"""


def _secret_image() -> str:
    env.debian_image()
    tag = "cg-test/secrets:" + hashlib.sha256(DOCKERFILE.encode()).hexdigest()[:12]
    with env.machine_lock("secrets-image"):
        if not env.image_exists(tag):
            ctx = env.CACHE / "secrets-image-context"
            (ctx / "app").mkdir(parents=True, exist_ok=True)
            (ctx / "Dockerfile").write_text(DOCKERFILE)
            (ctx / "app" / ".env").write_text(f"REGION=eu-west-1\nAWS_ACCESS_KEY_ID={AWS_ID}\n"
                                              f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
            (ctx / "app" / "README.md").write_text("AKIAIOSFODNN7EXAMPLE is the documented example key\n")
            subprocess.run(["docker", "build", "--network", "none", "-q", "-t", tag, str(ctx)], check=True, capture_output=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return tag


@pytest.mark.docker
def test_secrets_found_per_layer_in_a_docker_archive() -> None:
    archive = env.docker_save(_secret_image())
    inv = build_inventory(f"docker-archive:{archive}", analyzers=[SecretAnalyzer()], cache=None)
    found = {(f.id, f.path): f for f in inv.file_findings}
    assert set(found) == {("aws-access-key-id", "app/.env"), ("aws-secret-access-key", "app/.env"),
                          ("gitlab-token", "root/.gitlab-token")}
    aws = found[("aws-access-key-id", "app/.env")]
    assert aws.kind is FindingKind.SECRET and aws.line == 2 and aws.match == "AKIA****"
    assert aws.layer is not None and "COPY" in aws.layer.created_by and aws.layer.index == 1
    gl = found[("gitlab-token", "root/.gitlab-token")]
    assert gl.layer is not None and gl.layer.index == 2 and "gitlab-token" in gl.layer.created_by
    # the debootstrap base layer contributes nothing
    assert all(f.layer is not None and f.layer.index > 0 for f in inv.file_findings)
    # the RUN command that wrote the token keeps it in the image history: the scan finds it there too
    # (build_inventory's result is already redacted: the history it returns holds the masked command)
    assert inv.image is not None and not scan_image_config(inv.image, inv.layers)
    res = scan_target(f"docker-archive:{archive}", scanners={"secret"}, cache=None)
    hist = [f for f in res.findings if f.path.startswith("(image config) history[")]
    assert [(f.id, f.layer.index if f.layer else None) for f in hist] == [("gitlab-token", 2)]
    assert GITLAB not in hist[0].layer.created_by and GITLAB[6:] not in hist[0].description
    # every report masks the values (also inside the layer's RUN command) and the SARIF is valid
    for fmt in ("table", "json", "sarif", "html", "cyclonedx", "spdx-json"):
        out = get_reporter(fmt)(inv, list(inv.file_findings), target=inv.target, tool_version="test")
        for raw in (AWS_ID, AWS_SECRET, GITLAB, AWS_ID[4:], GITLAB[6:]):
            assert raw not in out, (fmt, raw)
    sarif = json.loads(get_reporter("sarif")(inv, list(inv.file_findings), target=inv.target, tool_version="test"))
    assert errors("sarif", sarif) == []


def test_dir_target_through_the_walker_equals_scan_directory() -> None:
    inv = build_inventory(f"dir:{CORPUS}", analyzers=[SecretAnalyzer()], cache=None)
    walker = sorted((f.id, f.path, f.line) for f in inv.file_findings)
    direct = sorted((f.id, f.path, f.line) for f in scan_directory(CORPUS).findings)
    assert walker == direct and len(direct) >= 25


@pytest.mark.docker
def test_secret_findings_survive_the_layer_cache(tmp_path: Path) -> None:
    """A warm scan (every layer from the cache) reports the same secrets, masked, with their layers."""
    from containerguard.scanner.cache import LayerCache

    archive = env.docker_save(_secret_image())
    cache = LayerCache(tmp_path / "cache")
    cold = build_inventory(f"docker-archive:{archive}", analyzers=[SecretAnalyzer()], cache=cache)
    warm = build_inventory(f"docker-archive:{archive}", analyzers=[SecretAnalyzer()], cache=cache)
    assert sorted(warm.file_findings, key=lambda f: (f.path, f.id)) == sorted(cold.file_findings, key=lambda f: (f.path, f.id))
    stored = "".join(p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert AWS_ID not in stored and GITLAB not in stored  # the cache never holds a raw secret
