"""Every SARIF the CLI can write, validated against the SARIF 2.1.0 schema (errata 01) with format checks:
`config` over the real Dockerfile and Kubernetes corpora (CIS references are not URIs: never helpUri),
`scan` of a tree whose paths need percent-encoding, with suppressed findings (``status``), and the
secret scanner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "report"))

from report_schemas import errors
from tests.fixtures import vulnmirror
from tests.fixtures.env import SHARED

from containerguard.cli.main import main


def _sarif(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> dict:
    capsys.readouterr()
    rc = main([*args, "-f", "sarif", "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc in (0, 1), err
    return json.loads(out.read_text())


@pytest.mark.parametrize("corpus", ["dockerfiles", "k8s"])
def test_config_sarif_over_the_corpora(corpus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _sarif(capsys, tmp_path / "c.sarif", "config", str(SHARED / "corpora" / corpus))
    assert doc["runs"][0]["results"]
    assert errors("sarif", doc) == []
    for rule in doc["runs"][0]["tool"]["driver"]["rules"]:
        assert rule.get("helpUri", "https://").startswith(("https://", "http://"))


def test_scan_sarif_with_suppressions_and_awkward_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "app tree"
    nm = root / "srv [old]" / "node_modules" / "lodash"
    nm.mkdir(parents=True)
    (nm / "package.json").write_text(json.dumps({"name": "lodash", "version": "4.17.15"}))
    (root / "cfg ü").mkdir()
    (root / "cfg ü" / "settings.env").write_text("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLQ\n"
                                                  "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEQ\n")
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("ignores:\n  - id: CVE-2020-8203\n    reason: not reachable\n")
    doc = _sarif(capsys, tmp_path / "s.sarif", "scan", f"dir:{root}", "--db", str(vulnmirror.built_db()),
                 "--scanners", "vuln,secret", "--ignorefile", str(ignore))
    assert errors("sarif", doc) == []
    results = doc["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert suppressed and all(s["status"] == "accepted" for r in suppressed for s in r["suppressions"])
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "srv%20%5Bold%5D/node_modules/lodash/package.json" in uris
    assert any(u.startswith("cfg%20%C3%BC/") for u in uris)
