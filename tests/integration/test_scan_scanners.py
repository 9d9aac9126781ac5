"""`containerguard scan --scanners vuln,secret,misconfig`: secrets and misconfigurations found inside `scan`
flow into the same findings, filters, gate and reports as vulnerabilities.

The image is built by the real Docker Engine FROM the debootstrap'd Debian image: a COPY layer with a
real-format (fake) AWS key and GitHub token (CRC32 checksum in base62, as the secrets corpus generator
makes them) and an RSA private key made by openssl, a setuid binary copied in, a 0777 directory,
ENV DB_PASSWORD=..., EXPOSE 22, USER root. It is scanned from `docker save` through the CLI.
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
from tests.fixtures import env, vulnmirror

from containerguard.cli.main import main

_RNG = random.Random(20261127)
# the corpus generator's constructions: GitHub's CRC32-in-base62 checksum, AWS's base32 alphabet
AWS_ID = generate.aws_key_id(_RNG)
GITHUB = generate.github_token(_RNG, "ghp")
DB_PASSWORD = generate.rnd(_RNG, generate.ALNUM, 28)

DOCKERFILE = f"""\
FROM {env.DEBIAN_IMAGE}
COPY app/ /app/
RUN cp /bin/true /usr/local/bin/helper && chmod 4755 /usr/local/bin/helper
RUN mkdir -p /srv/shared /srv/sticky && chmod 0777 /srv/shared && chmod 1777 /srv/sticky
ENV DB_PASSWORD={DB_PASSWORD}
EXPOSE 22
USER root
"""
CONFIG_ENV = f"REGION=eu-west-1\nAWS_ACCESS_KEY_ID={AWS_ID}\nGITHUB_TOKEN={GITHUB}\n"
CTX = env.CACHE / ("scan-scanners-context-" + hashlib.sha256((DOCKERFILE + CONFIG_ENV).encode()).hexdigest()[:12])



def _key_body() -> str:
    """The base64 body of the private key in the image (the part that must never be printed)."""
    lines = (CTX / "app" / "deploy.key").read_text().splitlines()
    return "".join(ln for ln in lines if not ln.startswith("-----"))


@pytest.fixture(scope="module")
def image() -> str:
    env.debian_image()
    tag = "cg-test/scan-scanners:" + CTX.name.rsplit("-", 1)[-1]
    with env.machine_lock("scan-scanners-image"):
        # the key lives only in the build context: rebuild when either is missing (a fresh test cache)
        if not env.image_exists(tag) or not (CTX / "app" / "deploy.key").exists():
            (CTX / "app").mkdir(parents=True, exist_ok=True)
            (CTX / "Dockerfile").write_text(DOCKERFILE)
            (CTX / "app" / "config.env").write_text(CONFIG_ENV)
            key = CTX / "app" / "deploy.key"
            if not key.exists():
                subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True,
                               capture_output=True)
            subprocess.run(["docker", "build", "--network", "none", "-q", "-t", tag, str(CTX)], check=True,
                           capture_output=True, timeout=600, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return tag


@pytest.fixture(scope="module")
def archive(image: str) -> Path:
    return env.docker_save(image)


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _raws() -> list[str]:
    body = _key_body()
    return [AWS_ID, AWS_ID[4:], GITHUB, GITHUB[4:], DB_PASSWORD, body[:40], body[-40:]]


def _by(doc: dict[str, Any], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["id"], f["path"]): f for f in doc["findings"] if f["kind"] == kind}


@pytest.mark.docker
def test_all_scanners_in_one_report(archive: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"docker-archive:{archive}"
    rc, out, err = _run(capsys, "scan", target, "--db", str(db), "-f", "json", "-q")
    assert rc == 0, err
    doc = json.loads(out)
    kinds = {f["kind"] for f in doc["findings"]}
    assert {"vulnerability", "secret", "misconfiguration"} <= kinds
    assert doc["file_findings"] == []  # every file finding is in "findings", once, after the filters

    secrets = _by(doc, "secret")
    files = {k for k in secrets if not k[1].startswith("(image config)")}
    assert files == {("aws-access-key-id", "app/config.env"), ("github-token", "app/config.env"),
                     ("private-key", "app/deploy.key")}
    for key in files:
        f = secrets[key]
        assert f["layer"]["index"] == 1 and "COPY" in f["layer"]["created_by"], f
        assert f["target"] == target and f["risk"] > 0
    assert secrets[("aws-access-key-id", "app/config.env")]["match"] == "AKIA****"
    assert secrets[("aws-access-key-id", "app/config.env")]["severity"] == "CRITICAL"
    assert secrets[("github-token", "app/config.env")]["extra"]["checksum"] == "valid"
    # the private key is reported once: as the secret, naming the image check that saw it too
    pk = secrets[("private-key", "app/deploy.key")]
    assert pk["extra"]["also_reported_as"] == ["CG-IMG-007"] and pk["match"].startswith("-----BEGIN RSA")
    assert not [f for f in doc["findings"] if f["id"] == "CG-IMG-007"]
    # ENV DB_PASSWORD: one finding for the Env entry (the secret rule; CG-IMG-002 folded into it), and the
    # ENV instruction kept in the image history
    env_hits = [f for f in doc["findings"] if f["path"] in ("(image config) Env[1]", "config.Env[1]")]
    assert [(f["id"], f["path"]) for f in env_hits] == [("generic-secret-assignment", "(image config) Env[1]")]
    assert env_hits[0]["extra"]["also_reported_as"] == ["CG-IMG-002"]
    assert any(k[0] == "generic-secret-assignment" and k[1].startswith("(image config) history[") for k in secrets)

    mis = _by(doc, "misconfiguration")
    assert {("CG-IMG-001", "config.User"), ("CG-IMG-003", "config.ExposedPorts"),
            ("CG-IMG-004", "config.Healthcheck"), ("CG-IMG-005", "/usr/local/bin/helper"),
            ("CG-IMG-006", "/srv/shared")} <= set(mis)
    assert ("CG-IMG-006", "/srv/sticky") not in mis  # sticky bit: fine
    assert not [k for k in mis if k[0] == "CG-IMG-005" and k[1] != "/usr/local/bin/helper"]  # base setuid: not ours
    assert mis[("CG-IMG-005", "/usr/local/bin/helper")]["layer"]["index"] == 2
    assert mis[("CG-IMG-006", "/srv/shared")]["layer"]["index"] == 3
    s = doc["summary"]
    assert s["secrets"] == len(secrets) and s["misconfigurations"] == len(mis)
    # report order: risk, and the CRITICAL secrets rank above the misconfigurations
    risks = [f["risk"] for f in doc["findings"]]
    assert risks == sorted(risks, reverse=True)
    assert secrets[("aws-access-key-id", "app/config.env")]["risk"] > max(f["risk"] for f in mis.values())

    for raw in _raws():
        assert raw not in out, raw

    rc, out, _ = _run(capsys, "scan", target, "--db", str(db), "-f", "sarif", "-q")
    sarif = json.loads(out)
    assert errors("sarif", sarif) == []
    results = sarif["runs"][0]["results"]
    assert len(results) == len(doc["findings"])
    rule_ids = {r["ruleId"] for r in results}
    assert {"aws-access-key-id", "github-token", "private-key", "CG-IMG-001", "CG-IMG-005", "CG-IMG-006"} <= rule_ids
    locs = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results}
    assert ("github-token", "app/config.env") in locs and ("CG-IMG-005", "usr/local/bin/helper") in locs
    for fmt in ("table", "html"):
        rc, text, _ = _run(capsys, "scan", target, "--db", str(db), "-f", fmt, "-q")
        assert rc == 0 and "github-token" in text and "CG-IMG-006" in text
        for raw in _raws():
            assert raw not in text
    rc, text, _ = _run(capsys, "scan", target, "--db", str(db), "-f", "cyclonedx", "-q")
    assert rc == 0 and all(raw not in text for raw in _raws())  # image config and history included
    for raw in _raws():
        assert raw not in out, raw


@pytest.mark.docker
def test_gate_severity_and_ignore_file(archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"docker-archive:{archive}"
    # no database needed without the vuln scanner; a CRITICAL secret fails the gate
    rc, out, _ = _run(capsys, "scan", target, "--scanners", "secret", "-f", "json", "-q", "--fail-on", "CRITICAL")
    assert rc == 1
    assert {f["kind"] for f in json.loads(out)["findings"]} == {"secret"}
    rc, _, _ = _run(capsys, "scan", target, "--scanners", "misconfig", "-q", "--fail-on", "CRITICAL",
                    "--exit-code", "5")
    assert rc == 0  # no misconfiguration is critical
    rc, _, _ = _run(capsys, "scan", target, "--scanners", "misconfig", "-q", "--fail-on", "HIGH", "--exit-code", "5")
    assert rc == 5  # runs as root (HIGH)
    rc, out, _ = _run(capsys, "scan", target, "--scanners", "secret,misconfig", "-f", "json", "-q",
                      "--severity", "CRITICAL")
    assert {(f["id"], f["path"]) for f in json.loads(out)["findings"]} == {
        ("aws-access-key-id", "app/config.env"), ("github-token", "app/config.env")}

    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("ignores:\n"
                      "  - id: github-token\n    path: app/config.env\n    reason: revoked test token\n"
                      "  - id: github-token\n    path: elsewhere/*\n    reason: does not match\n"
                      "  - id: CG-IMG-006\n    path: /srv/shared\n    reason: upload spool\n")
    rc, out, _ = _run(capsys, "scan", target, "--scanners", "secret,misconfig", "-f", "json", "-q",
                      "--ignorefile", str(ignore), "--fail-on", "CRITICAL", "--exit-code", "3")
    doc = json.loads(out)
    kept = {(f["id"], f["path"]) for f in doc["findings"]}
    sup = {(f["id"], f["path"]): f for f in doc["suppressed"]}
    assert set(sup) == {("github-token", "app/config.env"), ("CG-IMG-006", "/srv/shared")}
    assert "revoked test token" in sup[("github-token", "app/config.env")]["suppressed_by"]
    assert ("github-token", "app/config.env") not in kept and ("aws-access-key-id", "app/config.env") in kept
    assert rc == 3  # the AWS key is still there
    assert GITHUB not in out and AWS_ID not in out
    rc, out, _ = _run(capsys, "scan", target, "--scanners", "secret,misconfig", "-f", "sarif", "-q",
                      "--ignorefile", str(ignore))
    suppressed = [r for r in json.loads(out)["runs"][0]["results"] if r.get("suppressions")]
    assert sorted(r["ruleId"] for r in suppressed) == ["CG-IMG-006", "github-token"]
    assert GITHUB not in out


@pytest.mark.docker
def test_vuln_only_and_bad_scanner(archive: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"docker-archive:{archive}"
    rc, out, _ = _run(capsys, "scan", target, "--db", str(db), "--scanners", "vuln", "-f", "json", "-q")
    doc = json.loads(out)
    assert rc == 0 and doc["findings"]
    assert {f["kind"] for f in doc["findings"]} <= {"vulnerability", "malicious-package"}
    assert doc["summary"]["secrets"] == 0 and doc["summary"]["misconfigurations"] == 0
    rc, _, err = _run(capsys, "scan", target, "--scanners", "vuln,passwords")
    assert rc == 2 and err.startswith("error: unknown scanner(s) passwords")


@pytest.mark.docker
def test_sbom_does_not_scan_secrets(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "sbom", f"docker-archive:{archive}", "-f", "json", "-q")
    doc = json.loads(out)
    assert rc == 0 and doc["file_findings"] == [] and doc["packages"]
    assert AWS_ID not in out and GITHUB not in out


@pytest.mark.docker
def test_layer_cache_keys_follow_the_scanners(archive: Path, db: Path, tmp_path: Path) -> None:
    """A warm scan with secrets reads no layer and returns the same findings; switching scanners changes
    the cache key (no stale results either way)."""
    from containerguard.scanner.cache import LayerCache
    from containerguard.scanner.scan import scan_target

    cache = LayerCache(tmp_path / "cache")
    target = f"docker-archive:{archive}"

    def run(scanners: set[str]) -> tuple[set[tuple[str, str, str]], list[str]]:
        phases: list[str] = []
        res = scan_target(target, scanners=scanners, db=db, cache=cache, progress=lambda e: phases.append(e.phase))
        return {(f.kind.value, f.id, f.path) for f in res.findings}, phases

    def layers(phases: list[str], phase: str) -> int:
        return phases.count(phase)

    cold, p1 = run({"vuln", "secret", "misconfig"})
    assert layers(p1, "layer-start") == 4 and layers(p1, "layer-cached") == 0
    warm, p2 = run({"vuln", "secret", "misconfig"})
    assert warm == cold and layers(p2, "layer-cached") == 4 and layers(p2, "layer-start") == 0
    assert ("secret", "github-token", "app/config.env") in warm
    vuln_only, p3 = run({"vuln"})
    assert layers(p3, "layer-start") == 4  # other analyzers: another key, the layers are read
    assert {k for k, _i, _p in vuln_only} <= {"vulnerability", "malicious-package"}
    assert {x for x in cold if x[0] == "vulnerability"} == vuln_only
    secret_only, p4 = run({"secret"})
    assert layers(p4, "layer-start") == 4
    assert secret_only == {x for x in cold if x[0] == "secret"}
    again, p5 = run({"vuln", "secret", "misconfig"})
    assert again == cold and layers(p5, "layer-start") == 0


DIR_DOCKERFILE = "FROM python:latest\nRUN curl -fsSL https://example.invalid/install.sh | sh\nUSER root\n"
DIR_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  hostNetwork: true
  containers:
    - name: web
      image: nginx:latest
      securityContext:
        privileged: true
"""


def test_dir_target_secrets_and_config_files(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / "Dockerfile").write_text(DIR_DOCKERFILE)
    (root / "deploy" / "pod.yaml").write_text(DIR_MANIFEST)
    (root / "settings.env").write_text(f"GITHUB_TOKEN={GITHUB}\n")
    rc, out, err = _run(capsys, "scan", f"dir:{root}", "--db", str(db), "-f", "json", "-q", "--fail-on", "CRITICAL")
    doc = json.loads(out)
    assert rc == 1, err  # the GitHub token is CRITICAL
    found = {(f["kind"], f["path"]) for f in doc["findings"]}
    assert ("secret", "settings.env") in found
    assert ("misconfiguration", "Dockerfile") in found and ("misconfiguration", "deploy/pod.yaml") in found
    by_path: dict[str, set[str]] = {}
    for f in doc["findings"]:
        by_path.setdefault(f["path"], set()).add(f["id"])
    assert by_path["settings.env"] == {"github-token"}
    df = [f for f in doc["findings"] if f["path"] == "Dockerfile"]
    assert all(f["line"] for f in df) and len(by_path["Dockerfile"]) >= 3  # latest base, curl | sh, USER root
    assert len(by_path["deploy/pod.yaml"]) >= 3  # hostNetwork, privileged, latest tag ...
    assert GITHUB not in out
    # the same results as `containerguard config` on the tree
    rc, cfg, _ = _run(capsys, "config", str(root), "-f", "json", "-q")
    cfg_ids = {(f["id"], f["path"].removeprefix(str(root) + "/")) for f in json.loads(cfg)["findings"]}
    assert cfg_ids == {(f["id"], f["path"]) for f in doc["findings"] if f["kind"] == "misconfiguration"}
    # secrets only
    rc, out, _ = _run(capsys, "scan", f"dir:{root}", "--scanners", "secret", "-f", "json", "-q")
    assert {(f["id"], f["path"]) for f in json.loads(out)["findings"]} == {("github-token", "settings.env")}


# --------------------------------------------------------------------------- pure logic


def test_parse_scanners() -> None:
    from containerguard.errors import UsageError
    from containerguard.scanner.scan import DEFAULT_SCANNERS, parse_scanners

    assert parse_scanners("vuln,secret,misconfig") == DEFAULT_SCANNERS == {"vuln", "secret", "misconfig"}
    assert parse_scanners(" Secret , ") == {"secret"}
    assert parse_scanners(["vuln"]) == {"vuln"}
    for bad in ("", ",", "vuln,license"):
        with pytest.raises(UsageError):
            parse_scanners(bad)


def test_merge_keeps_the_secret_and_names_the_check() -> None:
    """The findings come from their real producers (secret rules on a file and on the image config, the
    image-file analyzer, the config checks); the merge pairs them by subject, never by message text."""
    import io

    from containerguard.analyzer.base import AnalyzerInput
    from containerguard.misconfig.image import ImageFileAnalyzer, check_config
    from containerguard.model import ImageMeta
    from containerguard.scanner.scan import _merge
    from containerguard.secrets import SecretScanner, scan_image_config

    pem = (b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
           b"-----END RSA PRIVATE KEY-----\n")
    file_secrets = SecretScanner().scan("etc/app/tls.key", pem).findings
    meta = ImageMeta(id="sha256:x", config={"Env": ["PATH=/usr/bin", "MODE=prod",
                                                    "DB_PASSWORD=Xk9vQ2mZ7pL4rT8w", "API_TOKEN=unset"]})
    env_secrets = scan_image_config(meta)
    files = ImageFileAnalyzer()
    mis = []
    for path, data in (("etc/app/tls.key", pem), ("etc/app/store.p12", b"\x30\x82binary")):
        mis += files.analyze(AnalyzerInput(path=path, mode=0o100600, size=len(data), stream=io.BytesIO(data))).findings
    mis += [f for f in check_config(meta) if f.id == "CG-IMG-002"]
    assert [f.subject for f in file_secrets] == ["file:etc/app/tls.key#private-key"]
    assert {f.subject for f in env_secrets} == {"config:Env[2]"}
    secrets, kept = _merge(file_secrets + env_secrets, mis)
    assert ("CG-IMG-007", "/etc/app/store.p12") in [(f.id, f.path) for f in kept]  # a key store: no secret rule
    assert not [f for f in kept if f.subject in ("file:etc/app/tls.key#private-key", "config:Env[2]")]
    assert {f.id: f.extra.get("also_reported_as") for f in secrets}["private-key"] == ["CG-IMG-007"]
    assert all(f.extra.get("also_reported_as") == ["CG-IMG-002"] for f in secrets if f.subject == "config:Env[2]")
