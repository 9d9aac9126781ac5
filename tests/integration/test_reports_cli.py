"""Reports and policy through the real CLI (`containerguard sbom` and `containerguard scan`) on the
debootstrap'd Debian image saved from the real Docker Engine, with the vulnerability database built from
../shared/vulndata: every format valid against its official schema and consistent with the others; the
ignore file, OpenVEX and the CI gate change what a user sees and the exit code."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.report import load_inventory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "report"))
from report_schemas import errors
from tests.fixtures import env, vulnmirror

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def archive() -> Path:
    return env.docker_save(env.debian_image())


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_sbom_formats_agree_and_validate(archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"docker-archive:{archive}"
    outs = {}
    for fmt in ("json", "cyclonedx", "spdx-json", "table"):
        out = tmp_path / f"sbom.{fmt}"
        rc, _, err = _run(capsys, "sbom", target, "--format", fmt, "-o", str(out), "-q")
        assert rc == 0, err
        outs[fmt] = out.read_text()
    native = json.loads(outs["json"])
    cdx = json.loads(outs["cyclonedx"])
    spdx = json.loads(outs["spdx-json"])
    assert errors("cyclonedx", cdx) == []
    assert errors("spdx", spdx) == []
    purls = {p["purl"] for p in native["packages"]}
    assert len(purls) > 80  # debootstrap minbase
    assert {c["purl"] for c in cdx["components"] if c["type"] == "library"} == purls
    assert {r["referenceLocator"] for p in spdx["packages"] for r in p.get("externalRefs", [])} == purls
    assert f"{len(native['packages'])} packages" in outs["table"]
    # every package knows its layer, in every format
    assert all(p["layer"]["digest"].startswith("sha256:") for p in native["packages"])
    digests = {prop["value"] for c in cdx["components"] for prop in c.get("properties", [])
               if prop["name"] == "containerguard:layer:digest"}
    assert digests == {p["layer"]["digest"] for p in native["packages"]}
    # the stored JSON loads back into the same inventory (what rescans use)
    inv = load_inventory(outs["json"])
    assert {p.purl for p in inv.packages} == purls and inv.os.family == "debian" and inv.os.version == "12"


def test_scan_reports_policy_and_gate(archive: Path, db: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = f"docker-archive:{archive}"
    base = ["scan", target, "--scanners", "vuln", "--db", str(db), "-q"]
    rc, out, err = _run(capsys, *base, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    findings = doc["findings"]
    assert findings, "the Debian 12 image has known vulnerabilities in the OSV data"
    risks = [f["risk"] for f in findings]
    assert risks == sorted(risks, reverse=True)

    rc, out, _ = _run(capsys, *base, "--format", "sarif")
    sarif = json.loads(out)
    assert errors("sarif", sarif) == []
    assert len(sarif["runs"][0]["results"]) == len(findings)

    rc, out, _ = _run(capsys, *base, "--format", "cyclonedx")
    cdx = json.loads(out)
    assert errors("cyclonedx", cdx) == []
    assert len(cdx["vulnerabilities"]) == len([f for f in findings if f["kind"] in ("vulnerability", "malicious-package")])

    rc, out, _ = _run(capsys, *base, "--format", "html")
    assert out.startswith("<!DOCTYPE html>") and out.count("<script") == 1 and doc["findings"][0]["id"] in out

    rc, out, _ = _run(capsys, *base, "--format", "table")
    s = doc["summary"]
    assert f"{s['vulnerabilities']} vulnerabilities ({s['by_severity']['critical']} critical" in out

    # OpenVEX: not_affected for the top finding's package suppresses it, with the justification shown
    top = findings[0]
    vex = tmp_path / "image.openvex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.org/vex/1", "author": "tests",
        "timestamp": "2026-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": top["id"]}, "products": [{"@id": top["package"]["purl"]}],
                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}))
    rc, out, _ = _run(capsys, *base, "--format", "json", "--vex", str(vex))
    after = json.loads(out)
    key = (top["id"], top["package"]["purl"])
    assert key not in {(f["id"], f["package"]["purl"]) for f in after["findings"]}
    (supp,) = [f for f in after["suppressed"] if (f["id"], f["package"]["purl"]) == key]
    assert "vulnerable_code_not_in_execute_path" in supp["suppressed_by"]
    rc, out, _ = _run(capsys, *base, "--format", "sarif", "--vex", str(vex))
    res = [r for r in json.loads(out)["runs"][0]["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in res] == [top["id"]]

    # ignore file: an active entry suppresses, an expired one warns and suppresses nothing
    second = findings[1]
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    ignore = tmp_path / ".containerguard-ignore.yaml"
    ignore.write_text(f"ignores:\n  - id: {top['id']}\n    package: {top['package']['name']}\n    reason: accepted\n"
                      f"  - id: {second['id']}\n    reason: old decision\n    expires: {yesterday}\n")
    capsys.readouterr()
    rc = main(["scan", target, "--scanners", "vuln", "--db", str(db), "--format", "json", "--ignorefile", str(ignore)])
    cap = capsys.readouterr()
    after = json.loads(cap.out)
    assert (top["id"], top["package"]["name"]) in {(f["id"], f["package"]["name"]) for f in after["suppressed"]}
    assert second["id"] in {f["id"] for f in after["findings"]}
    assert f"ignore entry expired and no longer suppresses: {second['id']} ({ignore}:5)" in cap.err
    assert after["expired_ignores"] == [f"{second['id']} ({ignore}:5)"]

    # the gate: --fail-on picks the exit code from what is left after the filters
    names = {f["severity"] for f in findings}
    rc, _, _ = _run(capsys, *base, "--format", "json", "--fail-on", "LOW", "--exit-code", "3")
    assert rc == (3 if names & {"LOW", "MEDIUM", "HIGH", "CRITICAL"} else 0)
    rc, _, _ = _run(capsys, *base, "--format", "json", "--severity", "CRITICAL", "--fail-on", "CRITICAL")
    assert rc == (1 if "CRITICAL" in names else 0)

    # a malformed ignore file is one error line and exit code 2
    bad = tmp_path / "bad-ignore.yaml"
    bad.write_text("ignores:\n  - id: CVE-1\n    expires: someday\n")
    rc, _, err = _run(capsys, *base, "--ignorefile", str(bad))
    assert rc == 2 and err.strip().splitlines() == [err.strip()] and err.startswith(f"error: {bad}:3:")
