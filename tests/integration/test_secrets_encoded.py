"""Secrets that are stored encoded: base64 (every value of a Kubernetes Secret's `data:`, `.dockerconfigjson`,
CI variables) and UTF-16 text files (what Windows tools and PowerShell write). Through `scan dir:` and a
docker-archive image; the look-alikes (certificates, hashes, random base64 binaries) stay quiet."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from containerguard.cli.main import main

# real-format fakes written here (not from any corpus): a PEM RSA key, a GitHub token, an AWS key id
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n"
       "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
       "-----END RSA PRIVATE KEY-----\n")
GHP = "ghp_Zq9vT3kLm8Xw2Rb7Yc4Hn6Pd1Sf5Gj0Ka3Ee"
AKIA = "AKIAZQ3TRP6WXKJ4N7VB"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _secrets(capsys: pytest.CaptureFixture[str], target: str) -> list[dict]:
    capsys.readouterr()
    assert main(["scan", target, "--scanners", "secret", "-f", "json", "-q"]) == 0
    return [f for f in json.loads(capsys.readouterr().out)["findings"] if f["kind"] == "secret"]


def _tree(root: Path) -> None:
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "tls-secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: {_b64('-----BEGIN CERTIFICATE-----' + chr(10) + 'MIIB' + chr(10))}\n"
        f"  tls.key: {_b64(PEM)}\n"
        f"  token: {_b64(GHP)}\n")
    (root / "ci.env").write_text(f"AWS_CREDS_B64={_b64('aws_access_key_id = ' + AKIA + chr(10))}\n")
    (root / "deploy.ps1").write_bytes(f"$env:GH_TOKEN = '{GHP}'\r\n".encode("utf-16"))  # with its BOM
    # look-alikes: base64 of random bytes and of plain words, a hex digest, a UUID, and a certificate
    rnd = base64.b64encode(hashlib.sha512(b"x").digest() * 4).decode()
    (root / "look-alikes.txt").write_text(
        f"blob: {rnd}\nwords: {_b64('the quick brown fox jumps over the lazy dog again and again')}\n"
        f"digest: {hashlib.sha256(b'y').hexdigest()}\nid: 123e4567-e89b-12d3-a456-426614174000\n")


def _check(found: list[dict], prefix: str = "") -> None:
    got = {(f["path"].removeprefix(prefix), f["id"], f["line"]) for f in found}
    assert ("k8s/tls-secret.yaml", "private-key", 7) in got, got
    assert ("k8s/tls-secret.yaml", "github-token", 8) in got, got
    assert ("ci.env", "aws-access-key-id", 1) in got, got
    assert ("deploy.ps1", "github-token", 1) in got, got
    assert not [g for g in got if g[0] == "look-alikes.txt"], got
    # one finding per secret: the encoded value is not reported a second time as a generic assignment
    assert len([g for g in got if g[0] == "k8s/tls-secret.yaml"]) == 2, got
    by_line = {(f["path"].removeprefix(prefix), f["line"]): f for f in found}
    enc = by_line[("k8s/tls-secret.yaml", 8)]
    assert enc["match"] == "ghp_****" and enc["extra"].get("encoding") == "base64", enc
    blob = json.dumps(found)
    for raw in (GHP, AKIA, _b64(GHP), PEM.splitlines()[1]):  # masked everywhere: neither decoded nor encoded
        assert raw not in blob


def test_encoded_secrets_in_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(tmp_path)
    _check(_secrets(capsys, f"dir:{tmp_path}"))


def test_encoded_secrets_in_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same files inside an image layer (docker-archive built by hand: no daemon needed)."""
    import io
    import tarfile

    root = tmp_path / "root"
    _tree(root / "app")
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        for p in sorted(root.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(root)), recursive=False)
    blob = layer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]},
                         "history": [{"created_by": "COPY app /app"}]}).encode()
    cdigest = hashlib.sha256(config).hexdigest()
    archive = tmp_path / "img.tar"
    with tarfile.open(archive, "w") as tf:
        for name, data in ((f"{digest}/layer.tar", blob), (f"{cdigest}.json", config),
                           ("manifest.json", json.dumps([{"Config": f"{cdigest}.json", "RepoTags": ["enc:1"],
                                                          "Layers": [f"{digest}/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    capsys.readouterr()
    assert main(["scan", f"docker-archive:{archive}", "--scanners", "secret", "-f", "json", "-q",
                 "--no-cache"]) == 0
    found = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["kind"] == "secret"]
    _check(found, prefix="app/" if not found or not found[0]["path"].startswith("/") else "/app/")
    assert os.path.exists(archive)
