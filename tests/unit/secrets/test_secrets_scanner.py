"""Secret scanner behaviour: each rule on real-format values, masking, allowlists, binary/huge files,
rule-file validation, bounded regexes, the analyzer contract."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from containerguard.analyzer.base import AnalyzerInput
from containerguard.analyzer.secrets import SecretAnalyzer
from containerguard.errors import SecretsError
from containerguard.model import FindingKind, Severity
from containerguard.secrets import (
    AllowEntry,
    SecretScanner,
    builtin_rules,
    load_rules,
    scan_bytes,
    shannon_entropy,
)
from containerguard.secrets.scanner import github_checksum_ok, jwt_ok


def test_builtin_rules_cover_the_documented_providers() -> None:
    ids = set(builtin_rules().ids())
    assert {"private-key", "aws-access-key-id", "aws-secret-access-key", "gcp-service-account", "gcp-api-key",
            "azure-storage-account-key", "azure-client-secret", "github-token", "github-fine-grained-pat",
            "gitlab-token", "slack-token", "slack-webhook", "jwt", "stripe-secret-key",
            "generic-secret-assignment"} <= ids


def test_finding_shape_line_and_mask() -> None:
    data = b"# settings\nregion=eu-west-1\nAWS_ACCESS_KEY_ID=AKIAZ7Q2M4KX5TRWN3VB\n"
    (f,) = scan_bytes("/app/.env", data)
    assert f.kind is FindingKind.SECRET and f.id == "aws-access-key-id" and f.severity is Severity.CRITICAL
    assert f.path == "app/.env" and f.line == 3
    assert f.match == "AKIA****" and "Z7Q2M4KX5TRWN3VB" not in repr(f)
    assert f.cwe == ("CWE-798",) and f.remediation


def test_github_checksum_is_recorded() -> None:
    import zlib

    body = "Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0a"
    n = zlib.crc32(body.encode())
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = alphabet[r] + digits
    good = f"ghp_{body}{digits.rjust(6, '0')}"
    bad = f"ghp_{body}AAAAAA"
    assert github_checksum_ok(good) and not github_checksum_ok(bad)
    (f,) = scan_bytes("a.txt", good.encode())
    assert f.extra["checksum"] == "valid"
    (g,) = scan_bytes("a.txt", bad.encode())
    assert g.extra["checksum"] == "invalid"  # still reported: the checksum only raises confidence


def test_jwt_must_decode_with_an_algorithm() -> None:
    ok = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtNDIiLCJpYXQiOjE3MDAwMDAwMDB9."
          "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA")
    assert jwt_ok(ok.encode())
    assert [f.id for f in scan_bytes("t", ok.encode())] == ["jwt"]
    no_alg = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzdmMtNDIiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIz"
    assert scan_bytes("t", no_alg.encode()) == []


def test_private_key_is_reported_at_begin_line_with_header_only() -> None:
    body = "\n".join(["MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"] * 6)
    data = f"x\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n".encode()
    (f,) = scan_bytes("etc/ssl/private/k.pem", data)
    assert f.line == 2 and f.match == "-----BEGIN RSA PRIVATE KEY-----****"
    assert "MIIBOg" not in f.match


def test_generic_assignment_entropy_and_references() -> None:
    assert [f.id for f in scan_bytes("c.yaml", b'db_password: "Xk9#qT2!vLm8@Rz4Wp6"\n')] == ["generic-secret-assignment"]
    for text in (b"password = os.environ['DB_PASSWORD']\n", b"PASSWORD=changeme\n", b"password: ${PASSWORD}\n",
                 b"token: aaaaaaaaaaaaaaaaaaaaaa\n", b"secret_key_file = /run/secrets/key\n",
                 b"password_reset_token_expiry = 3600\n"):
        assert scan_bytes("c.txt", text) == [], text


def test_specific_rule_wins_over_generic_at_the_same_place() -> None:
    found = scan_bytes(".env", b"AWS_SECRET_ACCESS_KEY=Qm7vX2pL9sK4wT8rN1cZ5bH3jF6dG0yU2eA7iO4k\n")
    assert [f.id for f in found] == ["aws-secret-access-key"]


def test_documented_examples_are_allowlisted() -> None:
    text = (b"AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
            b"ghp_16C7e42F292c6912E7710c838347Ae178B4a\n")
    assert scan_bytes("README.md", text) == []


def test_binary_and_huge_files_are_skipped_and_counted(tmp_path: Path) -> None:
    secret = b"token=AKIAZ7Q2M4KX5TRWN3VB\n"
    scanner = SecretScanner(max_size=1024)
    assert scanner.scan("bin/tool", b"\x7fELF\x00\x01" + secret).skipped == "binary"
    assert scanner.scan("big.txt", secret * 100).skipped == "too-large"
    (tmp_path / "tool").write_bytes(b"\x7fELF\x00\x00" + secret)
    (tmp_path / "big.log").write_bytes(secret * 100)
    (tmp_path / "ok.env").write_bytes(secret)
    res = scanner.scan_directory(tmp_path)
    assert [f.path for f in res.findings] == ["ok.env"]
    assert res.skipped_binary == 1 and res.skipped_large == 1 and res.files_scanned == 1
    assert res.warnings == ["secrets: 1 file(s) larger than 1024 bytes not scanned"]


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "creds").write_bytes(b"AKIAZ7Q2M4KX5TRWN3VB\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside / "creds")
    (root / "dirlink").symlink_to(outside)
    assert SecretScanner().scan_directory(root).findings == []


def test_allowlists_by_path_and_rule() -> None:
    data = b"AKIAZ7Q2M4KX5TRWN3VB\nglpat-Qx7Lm2Vb9Tk4Rw8Zp1Nc\n"
    scanner = SecretScanner(allow=[AllowEntry(rule="gitlab-token", path="app/tests/**"), AllowEntry(path="vendor/*")])
    assert {f.id for f in scanner.scan("app/tests/fixtures/x.env", data).findings} == {"aws-access-key-id"}
    assert {f.id for f in scanner.scan("app/x.env", data).findings} == {"aws-access-key-id", "gitlab-token"}
    assert scanner.scan("vendor/x.env", data).findings == []
    assert {f.id for f in SecretScanner(disable_rules=["aws-access-key-id"]).scan("a", data).findings} == {"gitlab-token"}
    assert scan_bytes("usr/share/doc/pkg/README", data) == []  # built-in path allowlist
    with pytest.raises(SecretsError, match="unknown secret rule id"):
        SecretScanner(disable_rules=["nope"])


def test_regexes_are_bounded_on_hostile_input() -> None:
    hostile = [
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 2_000_000,  # no END
        b"password=" * 200_000,
        b"aws" + b" " * 1_000_000 + b"secret",
        b"eyJ" + b"a" * 1_000_000 + b".eyJ",
        (b"xoxb-" + b"1" * 14 + b"-") * 50_000,
        (b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 64 + b"\n") * 40_000,  # many headers, no END
        b'{"type": "service_account", ' * 200_000,
        b"eyJ" * 1_000_000,
        b"a_" * 1_000_000 + b"password=Xk9qT2vLm8Rz4Wp6",
    ]
    scanner = SecretScanner(max_size=8 * 1024 * 1024)
    for data in hostile:
        t = time.perf_counter()
        scanner.scan("x.txt", data)
        assert time.perf_counter() - t < 3.0, data[:20]


def test_shannon_entropy() -> None:
    assert shannon_entropy(b"") == 0 and shannon_entropy(b"aaaa") == 0
    assert shannon_entropy(b"abcd") == pytest.approx(2.0)


# --------------------------------------------------------------------------- rule files


def test_user_rules_extend_builtins(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("rules:\n  - id: shop-internal-token\n    title: Shop internal API token\n    severity: HIGH\n"
                 "    keywords: [shoptok_]\n    regex: 'shoptok_(?P<secret>[a-f0-9]{32})'\n")
    rules = load_rules(p)
    assert rules.ids()[-1] == "shop-internal-token" and len(rules.ids()) == len(builtin_rules().ids()) + 1
    (f,) = SecretScanner(rules).scan("x", b"auth: shoptok_" + b"0123456789abcdef" * 2 + b"\n").findings
    assert f.id == "shop-internal-token" and f.severity is Severity.HIGH


@pytest.mark.parametrize(("text", "message"), [
    ("rules:\n  - id: x1\n    title: t\n    severity: HIGH\n    keywords: [a]\n    regex: '(['\n", "rule x1: invalid regex"),
    ("rules:\n  - id: x1\n    title: t\n    severity: SEVERE\n    keywords: [a]\n    regex: a\n", "rules.0.severity"),
    ("rules:\n  - id: x1\n    title: t\n    severity: LOW\n    keywords: [A]\n    regex: a\n", "lowercase"),
    ("rules:\n  - id: x1\n    title: t\n    severity: LOW\n    keywords: [a]\n", "exactly one of regex or regexes"),
    ("rules:\n  - id: x1\n    title: t\n    severity: LOW\n    keywords: [a]\n    regex: a\n    colour: red\n", "colour"),
    ("rules:\n  - id: private-key\n    title: t\n    severity: LOW\n    keywords: [a]\n    regex: a\n",
     "already defined by the built-in rules"),
    ("rules: [\n", "invalid YAML"),
])
def test_bad_rule_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "my-rules.yaml"
    p.write_text(text)
    with pytest.raises(SecretsError) as exc:
        load_rules(p)
    assert str(exc.value).startswith(str(p)) and message in str(exc.value)


# --------------------------------------------------------------------------- analyzer contract


def test_analyzer_path_filter_and_analyze() -> None:
    a = SecretAnalyzer()
    assert a.type == "secret" and a.version >= 1
    assert a.required("app/.env", 0o100644)
    assert a.required("root/.ssh/id_rsa", 0o100600)
    assert a.required("etc/app/config.yaml", 0o100644)
    assert a.required("usr/local/bin/deploy.sh", 0o100755)
    assert not a.required("usr/bin/perl", 0o100755)  # distro binaries: skipped in layers (see OS_BINARY_DIRS)
    for path in ("usr/lib/x86_64-linux-gnu/libssl.so.3", "usr/share/doc/curl/copyright", "usr/share/locale/de/LC_MESSAGES/x.mo",
                 "usr/lib/python3/dist-packages/__pycache__/x.cpython-311.pyc", "app/static/logo.png",
                 "usr/share/zoneinfo/Europe/Berlin", "app/vendor/lib.jar"):
        assert not a.required(path, 0o100644), path
    assert not a.required("app/link", 0o120777)  # symlink
    data = b"GITLAB=glpat-Qx7Lm2Vb9Tk4Rw8Zp1Nc\n"
    res = a.analyze(AnalyzerInput("app/.env", len(data), 0o100644, io.BytesIO(data)))
    assert [(f.id, f.path, f.line) for f in res.findings] == [("gitlab-token", "app/.env", 1)]
    big = b"a" * (a.max_size + 10)
    res = a.analyze(AnalyzerInput("app/big.txt", len(big), 0o100644, io.BytesIO(big)))
    assert res.findings == [] and "larger than" in res.warnings[0]
    res = a.analyze(AnalyzerInput("app/bin", 6, 0o100755, io.BytesIO(b"\x7fELF\x00\x01")))
    assert res.findings == [] and res.warnings == []


def test_gcp_service_account_key_in_any_key_order() -> None:
    doc = {"client_email": "ci@shop.iam.gserviceaccount.com", "private_key_id": "8f" * 20, "project_id": "shop",
           "type": "service_account"}
    sorted_json = json.dumps(doc, sort_keys=True).encode()
    assert [f.id for f in scan_bytes("sa.json", sorted_json)] == ["gcp-service-account"]
    other = json.dumps({**doc, "type": "authorized_user"}).encode()
    assert scan_bytes("sa.json", other) == []


def test_corpus_manifest_is_consistent() -> None:
    """Every corpus file is listed in expected.json and every expected id is a real rule id."""
    here = Path(__file__).resolve().parents[2] / "data" / "secrets"
    expected = json.loads((here / "expected.json").read_text())
    files = {str(p.relative_to(here / "corpus")) for p in (here / "corpus").rglob("*") if p.is_file()}
    assert files == set(expected)
    ids = set(builtin_rules().ids())
    assert all(set(v) <= ids for v in expected.values())


def test_redact_masks_secrets_inside_free_text() -> None:
    from containerguard.secrets import redact

    cmd = "/bin/sh -c echo 'glpat-Vx9Lm2Qb7Tk4Rw8Zp1Nc' > /root/.token && export AWS_ACCESS_KEY_ID=AKIAZ7Q2M4KX5TRWN3VB"
    out = redact(cmd)
    assert out == "/bin/sh -c echo 'glpa****' > /root/.token && export AWS_ACCESS_KEY_ID=AKIA****"
    assert redact("apt-get install -y curl") == "apt-get install -y curl"


def test_image_config_env_and_history() -> None:
    from containerguard.model import ImageMeta, Layer
    from containerguard.secrets import scan_image_config

    meta = ImageMeta(config={"Env": ["PATH=/usr/bin", "STRIPE_KEY=sk_live_Zq3xT9bLw2VkP7mN4cR8sD1f"]},
                     history=({"created_by": "ADD rootfs.tar /"},
                              {"created_by": "ENV STRIPE_KEY=sk_live_Zq3xT9bLw2VkP7mN4cR8sD1f", "empty_layer": True},
                              {"created_by": "RUN echo ghp_Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0aY5uE2i > /t"}))
    layers = (Layer(0, "sha256:a"), Layer(1, "sha256:b"))
    found = [(f.id, f.path, f.layer.index if f.layer else None) for f in scan_image_config(meta, layers)]
    assert found == [("stripe-secret-key", "(image config) Env[1]", None),
                     ("stripe-secret-key", "(image config) history[1]", None),
                     ("github-token", "(image config) history[2]", 1)]
