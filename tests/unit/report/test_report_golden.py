"""Golden files for the table, json and sarif reports of the fixed sample (tests/golden/).

Timestamps and document ids are fixed through RenderOptions, and the normaliser below also replaces any
ISO timestamp or UUID left in the output, so the files change only when the format does. After an
intended format change, regenerate with ``CG_UPDATE_GOLDEN=1 pytest tests/unit/report/test_report_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from report_sample import TARGET, TOOL_VERSION, findings, inventory, options

from containerguard.report import get_reporter

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise(text: str) -> str:
    return _UUID.sub("<uuid>", _TS.sub("<timestamp>", text))


@pytest.mark.parametrize(("fmt", "name", "sbom_only"), [
    ("table", "findings.table.txt", False),
    ("table", "sbom.table.txt", True),
    ("json", "findings.json", False),
    ("sarif", "findings.sarif", False),
])
def test_golden(fmt: str, name: str, sbom_only: bool) -> None:
    out = get_reporter(fmt)(inventory(), [] if sbom_only else findings(), target=TARGET, tool_version=TOOL_VERSION,
                            options=options(suppressed=() if sbom_only else options().suppressed))
    got = normalise(out)
    path = GOLDEN / name
    if os.environ.get("CG_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with CG_UPDATE_GOLDEN=1 once"
    assert got == path.read_text(encoding="utf-8")
