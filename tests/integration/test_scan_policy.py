"""`scan` wired to the policy stage: ignore file (default ./.containerguard-ignore.yaml), expired entries,
OpenVEX suppression with justification, --ignore-unfixed; all through the CLI and the full database."""

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
def db() -> Path:
    return vulnmirror.built_db()


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    jar = root / "opt" / "log4j-core-2.14.1.jar"
    jar.parent.mkdir(parents=True)
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
                    "groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n")
    nm = root / "srv" / "node_modules" / "lodash"
    nm.mkdir(parents=True)
    (nm / "package.json").write_text(json.dumps({"name": "lodash", "version": "4.17.15"}))
    return root


def _ids(doc: dict, key: str = "findings") -> set[str]:
    return {i for f in doc[key] for i in (f["id"], *f["aliases"])}


def test_ignore_file_and_vex(tmp_path: Path, app: Path, db: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".containerguard-ignore.yaml").write_text(
        "ignores:\n"
        "  - id: CVE-2021-44228\n    package: org.apache.logging.log4j:log4j-core\n"
        "    reason: JNDI lookups disabled by configuration\n    expires: 2999-01-01\n"
        "  - id: GHSA-29mw-wpgm-hmr9\n    reason: old exception\n    expires: 2020-01-01\n")
    vex = tmp_path / "vex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "sec team",
        "timestamp": "2024-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2020-8203"}, "products": [{"@id": "pkg:npm/lodash@4.17.15"}],
                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}))
    monkeypatch.chdir(work)
    capsys.readouterr()
    assert main(["scan", f"dir:{app}", "--db", str(db), "-f", "json", "--vex", str(vex)]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    kept, suppressed = _ids(doc), _ids(doc, "suppressed")
    assert "CVE-2021-44228" in suppressed and "CVE-2021-44228" not in kept
    assert "GHSA-p6mc-m468-83gw" in suppressed and "CVE-2020-8203" not in kept  # VEX not_affected
    by_id = {f["id"]: f for f in doc["suppressed"]}
    assert "JNDI lookups disabled" in by_id["CVE-2021-44228"]["suppressed_by"]
    assert "vulnerable_code_not_in_execute_path" in by_id["CVE-2020-8203"]["suppressed_by"]
    # the expired entry no longer suppresses and is reported as expired
    assert "GHSA-29mw-wpgm-hmr9" in kept
    assert any("GHSA-29mw-wpgm-hmr9" in e for e in doc["expired_ignores"])
    assert "expired" in out.err
    # other log4j-core 2.14.1 issues are still reported
    assert "CVE-2021-45046" in kept


def test_ignore_unfixed_and_severity(app: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["scan", f"dir:{app}", "--db", str(db), "-f", "json", "-q", "--ignore-unfixed",
                 "--severity", "CRITICAL"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] and all(f["severity"].upper() == "CRITICAL" and f["fixed_versions"] for f in doc["findings"])


def test_table_output_is_grouped_by_risk_with_a_summary(app: Path, db: Path, capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert main(["scan", f"dir:{app}", "--db", str(db), "-o", str(out), "-q"]) == 0
    text = out.read_text()
    assert "CVE-2021-44228" in text and "vulnerabilities" in text
    assert text.index("CVE-2021-44228") < text.index("CVE-2020-8203")  # KEV + ransomware ranks above
    for fmt in ("sarif", "cyclonedx", "html"):
        dest = tmp_path / f"r.{fmt}"
        assert main(["scan", f"dir:{app}", "--db", str(db), "-f", fmt, "-o", str(dest), "-q"]) == 0
        assert "CVE-2021-44228" in dest.read_text()
    assert main(["scan", f"dir:{app}", "--db", str(db), "-f", "nope", "-q"]) == 2


def test_vex_about_another_image_suppresses_nothing(tmp_path: Path, db: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """OpenVEX product scope through `scan --vex` on an OCI image: a statement naming this image (by
    manifest digest, or by repository and tag) suppresses; the same statement about another image, or
    another digest of this repository, does not; a package product applies wherever the package is."""
    from tests.fixtures.registry import tar_bytes, write_oci_image, write_oci_layout

    layer = tar_bytes([("srv/node_modules/lodash/package.json",
                        json.dumps({"name": "lodash", "version": "4.17.15"}).encode())])
    desc = write_oci_image(tmp_path / "shop", [layer])
    desc["annotations"] = {"io.containerd.image.name": "registry.example.org/acme/shop:1.4"}
    layout = write_oci_layout(tmp_path / "shop", [desc], ref_name="1.4")
    digest = desc["digest"]

    def scan(product: dict) -> dict:
        vex = tmp_path / "vex.json"
        vex.write_text(json.dumps({
            "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/2", "author": "sec",
            "timestamp": "2024-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2020-8203"}, "products": [product],
                            "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}))
        capsys.readouterr()
        rc = main(["scan", f"oci:{layout}:1.4", "--db", str(db), "-f", "json", "-q", "--vex", str(vex)])
        out = capsys.readouterr()
        assert rc == 0, out.err
        return json.loads(out.out)

    here = [{"@id": f"pkg:oci/shop@{digest.replace(':', '%3A')}"},
            {"@id": "pkg:oci/shop?repository_url=registry.example.org/acme/shop&tag=1.4"},
            {"@id": "pkg:oci/shop?repository_url=registry.example.org/acme/shop",
             "subcomponents": [{"@id": "pkg:npm/lodash@4.17.15"}]},
            {"@id": "x", "hashes": {"sha-256": digest.split(":")[1]}},
            {"@id": "pkg:npm/lodash"}]
    elsewhere = [{"@id": "pkg:oci/shop@sha256%3A" + "0" * 64},
                 {"@id": "pkg:oci/cart?repository_url=registry.example.org/acme/cart"},
                 {"@id": "pkg:oci/shop?repository_url=registry.example.org/acme/shop&tag=1.3"},
                 {"@id": "pkg:oci/shop?repository_url=registry.example.org/acme/shop",
                  "subcomponents": [{"@id": "pkg:npm/lodash@4.17.21"}]},
                 {"@id": "pkg:npm/underscore"}]
    for product in here:
        doc = scan(product)
        assert "CVE-2020-8203" in _ids(doc, "suppressed") and "CVE-2020-8203" not in _ids(doc), product
    for product in elsewhere:
        doc = scan(product)
        assert "CVE-2020-8203" in _ids(doc) and not doc["suppressed"], product
