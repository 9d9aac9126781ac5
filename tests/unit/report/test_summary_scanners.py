"""The table's summary line names only the kinds the scanners that ran can find: `scan --scanners secret`
must not claim "0 vulnerabilities" for an image whose packages were never matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.model import Finding, FindingKind, Severity
from containerguard.report.base import summarize

GHP = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["scan", *args])
    return rc, capsys.readouterr().out


def test_scan_with_only_the_secret_scanner_summarises_secrets_only(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/config.ini").write_text(f'github = "{GHP}"\n')
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm\nUSER root\n")
    target = f"dir:{tmp_path}"
    rc, out = _scan(capsys, target, "--scanners", "secret", "-f", "table", "-q")
    assert rc == 0
    last = out.rstrip().splitlines()[-1]
    assert last == f"{target}: 1 secrets"
    assert GHP not in out and "ghp_****" in out
    rc, out = _scan(capsys, target, "--scanners", "secret,misconfig", "-f", "table", "-q")
    last = out.rstrip().splitlines()[-1]
    assert last.startswith(f"{target}: ") and "vulnerabilities" not in last and "malicious" not in last
    assert "misconfigurations" in last and "1 secrets" in last


def test_summary_line_per_scanner_set() -> None:
    vuln = Finding(kind=FindingKind.VULNERABILITY, id="CVE-1", title="t", severity=Severity.HIGH)
    secret = Finding(kind=FindingKind.SECRET, id="github-token", title="t", severity=Severity.CRITICAL)
    full = summarize([vuln, secret]).line()
    assert full.startswith("1 vulnerabilities (0 critical, 1 high") and "0 misconfigurations" in full
    assert summarize([secret], scanners=frozenset({"secret"})).line() == "1 secrets"
    assert summarize([], scanners=frozenset({"misconfig"})).line() == "0 misconfigurations"
    only_vuln = summarize([vuln], scanners=frozenset({"vuln"})).line()
    assert only_vuln.startswith("1 vulnerabilities") and only_vuln.endswith("0 malicious")
    # a kind found although its scanner did not run (e.g. a stored document) is still counted
    assert summarize([vuln], scanners=frozenset({"secret"})).line().startswith("1 vulnerabilities")
    assert summarize([secret], suppressed=2, scanners=frozenset({"secret"})).line() == "1 secrets | 2 suppressed"
