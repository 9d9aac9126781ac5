"""The findings table fits the terminal: COLUMNS honoured, long titles cut on one line (the full text is in
JSON/HTML), and a table too large for Rich is drawn one line per row with the same columns."""

from __future__ import annotations

import pytest

from containerguard.model import Finding, FindingKind, Package, Severity
from containerguard.report import get_reporter
from containerguard.report.table import FAST_ROWS

LONG = "a very long advisory title " * 8 + "[/x] [bold]END"


def _findings(n: int) -> list[Finding]:
    pkg = Package("lodash", "4.17.15", "npm", "pkg:npm/lodash@4.17.15", ("srv/node_modules/lodash/package.json",))
    return [Finding(kind=FindingKind.VULNERABILITY, id=f"CVE-2024-{i:05d}", title=LONG, severity=Severity.HIGH,
                    package=pkg, fixed_versions=("4.17.21",), risk=50.0) for i in range(n)]


@pytest.mark.parametrize("n", [3, FAST_ROWS + 5])
@pytest.mark.parametrize("columns", [100, 160])
def test_table_fits_columns_one_line_per_finding(n: int, columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = get_reporter("table")(None, _findings(n), target="t", tool_version="t")
    lines = text.splitlines()
    table_lines = [ln for ln in lines if ln.startswith(("│", "┃", "┌", "└", "├", "┏", "┡", "╇"))]
    assert max(len(ln) for ln in table_lines) <= columns
    rows = [ln for ln in lines if "CVE-2024-" in ln]
    assert len(rows) == n  # every finding on exactly one line
    assert all("…" in r for r in rows)  # the long title cut, never wrapped
    assert "END" not in text  # the tail of the title is only in JSON/HTML
