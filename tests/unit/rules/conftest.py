from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def rules_dir() -> Path:
    return DATA / "rules"


@pytest.fixture
def events_dir() -> Path:
    return DATA / "events"


@pytest.fixture
def expectations():
    """The `expect` list each recorded event line carries (the engine ignores that key)."""

    def _read(path: Path) -> list[list[str]]:
        return [json.loads(line)["expect"] for line in path.read_text().splitlines() if line.strip()]

    return _read


@pytest.fixture
def write_rules(tmp_path: Path):
    def _write(text: str, name: str = "rules.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write
