"""Secrets that a later layer deletes or overwrites stay in the lower layer's blob (``docker save`` + untar
gives them back), so `scan --scanners secret` reports them, marked with the layer that removed them.

The image is built by the real Docker Engine FROM the debootstrap'd Debian image: layer 1 COPYs three files
with real-format (fake) tokens made by the secrets corpus generator; layer 2 deletes one (``rm``: a
whiteout), overwrites another, and chmods the third (a copy-up: the same secret survives to the top and
must be reported once, without the mark). It is scanned from `docker save` through the CLI, cold and warm
(every layer from the layer cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "report"))
from report_schemas import errors
from tests.data.secrets import generate
from tests.fixtures import env

from containerguard.cli.main import main

_RNG = random.Random(20261127_2)
GITHUB = generate.github_token(_RNG, "ghp")
AWS_ID = generate.aws_key_id(_RNG)
GITLAB = "glpat-" + generate.rnd(_RNG, generate.ALNUM, 20)
FILES = {
    "token.txt": f"{GITHUB}\n",
    "kept.env": f"REGION=eu-west-1\nAWS_ACCESS_KEY_ID={AWS_ID}\n",
    "over.env": f"GITLAB_TOKEN={GITLAB}\n",
}
DOCKERFILE = f"""\
FROM {env.DEBIAN_IMAGE}
COPY token.txt kept.env over.env /app/
RUN rm /app/token.txt && chmod 600 /app/kept.env && echo 'REGION=eu-west-1' > /app/over.env
"""
_KEY = hashlib.sha256((DOCKERFILE + json.dumps(FILES, sort_keys=True)).encode()).hexdigest()[:12]
RAWS = [GITHUB, GITHUB[4:], AWS_ID, AWS_ID[4:], GITLAB, GITLAB[6:]]


@pytest.fixture(scope="module")
def archive() -> Path:
    env.debian_image()
    tag = "cg-test/secrets-removed:" + _KEY
    with env.machine_lock("secrets-removed-image"):
        if not env.image_exists(tag):
            ctx = env.CACHE / f"secrets-removed-context-{_KEY}"
            ctx.mkdir(parents=True, exist_ok=True)
            (ctx / "Dockerfile").write_text(DOCKERFILE)
            for name, text in FILES.items():
                (ctx / name).write_text(text)
            subprocess.run(["docker", "build", "--network", "none", "-q", "-t", tag, str(ctx)], check=True,
                           capture_output=True, timeout=600, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return env.docker_save(tag)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _files(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == "secret" and not f["path"].startswith("(image config)")]


@pytest.mark.docker
def test_deleted_and_overwritten_secrets_are_reported_with_their_layers(
        archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    target = f"docker-archive:{archive}"
    cache = str(tmp_path / "cache")
    monkeypatch.setenv("CONTAINERGUARD_CACHE_DIR", cache)
    rc, out, err = _run(capsys, "scan", target, "--scanners", "secret", "-f", "json", "-q")
    assert rc == 0, err  # no --exit-code gate asked for
    doc = json.loads(out)
    found = {(f["id"], f["path"]): f for f in _files(doc)}
    # each secret once: the surviving one (copied up by chmod) is not reported a second time from layer 1
    assert len(_files(doc)) == len(found) == 3
    assert set(found) == {("github-token", "app/token.txt"), ("gitlab-token", "app/over.env"),
                          ("aws-access-key-id", "app/kept.env")}

    gh = found[("github-token", "app/token.txt")]
    assert gh["layer"]["index"] == 1 and "COPY" in gh["layer"]["created_by"]
    gone = gh["extra"]["removed_in_layer"]
    assert gone["index"] == 2 and gone["how"] == "deleted" and "rm /app/token.txt" in gone["created_by"]
    assert gone["digest"] == doc_layer(doc, 2)["digest"]
    assert "deleted in a later layer (2) but still extractable from layer 1" in gh["description"]
    assert gh["match"] == "ghp_****" and gh["severity"] == "CRITICAL"

    gl = found[("gitlab-token", "app/over.env")]
    assert gl["layer"]["index"] == 1
    assert gl["extra"]["removed_in_layer"]["index"] == 2 and gl["extra"]["removed_in_layer"]["how"] == "overwritten"
    assert "overwritten in a later layer (2) but still extractable from layer 1" in gl["description"]

    kept = found[("aws-access-key-id", "app/kept.env")]
    assert kept["layer"]["index"] == 2 and "removed_in_layer" not in kept["extra"]
    assert "extractable" not in kept["description"]
    for raw in RAWS:
        assert raw not in out, raw

    # warm: every layer from the cache, the same findings (the removal mark is computed after the cache)
    rc2, out2, _ = _run(capsys, "scan", target, "--scanners", "secret", "-f", "json", "-q")
    assert rc2 == rc
    assert sorted(map(_sig, _files(json.loads(out2)))) == sorted(map(_sig, _files(doc)))
    cached = [p for p in Path(cache).rglob("*") if p.is_file()]
    assert cached  # the warm scan had layer records to read
    stored = "".join(p.read_text(errors="replace") for p in cached)
    assert GITHUB not in stored and GITLAB not in stored

    # people's and tools' reports show it, masked
    rc, table, _ = _run(capsys, "scan", target, "--scanners", "secret", "-f", "table", "-q")
    assert "github-token" in table and "app/token.txt" in table and "ghp_****" in table
    rc, sarif_text, _ = _run(capsys, "scan", target, "--scanners", "secret", "-f", "sarif", "-q")
    sarif = json.loads(sarif_text)
    assert errors("sarif", sarif) == []
    locs = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in sarif["runs"][0]["results"]}
    assert ("github-token", "app/token.txt") in locs and ("gitlab-token", "app/over.env") in locs
    for text in (table, sarif_text):
        for raw in RAWS:
            assert raw not in text, raw


def doc_layer(doc: dict[str, Any], index: int) -> dict[str, Any]:
    layers = doc.get("layers") or doc.get("inventory", {}).get("layers") or []
    hit = [la for la in layers if la["index"] == index]
    assert hit, sorted(doc)
    return dict(hit[0])


def _sig(f: dict[str, Any]) -> str:
    return json.dumps([f["id"], f["path"], f["line"], f["layer"]["index"], f["extra"].get("removed_in_layer")],
                      sort_keys=True)
