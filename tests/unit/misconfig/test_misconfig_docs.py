"""docs/checks.md's generated tables match the check catalog (regenerate: python -m containerguard.misconfig.docs docs/checks.md)."""

from __future__ import annotations

from pathlib import Path

from containerguard.misconfig.catalog import catalog
from containerguard.misconfig.docs import generated_block, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "checks.md"


def test_docs_match_the_catalog() -> None:
    assert generated_block(DOC) == render(), "run: .venv/bin/python -m containerguard.misconfig.docs docs/checks.md"


def test_every_check_is_documented() -> None:
    text = DOC.read_text()
    assert all(f"| {cid} |" in text for cid in catalog())
