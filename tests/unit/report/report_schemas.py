"""Validators for the official schemas vendored under tests/data/schemas (offline, no network)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "schemas"


def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    resources = []
    for name in ("bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"):
        doc = _load(name)
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def errors(kind: str, document: dict[str, Any]) -> list[str]:
    """Schema errors of ``document`` against the official schema of ``kind`` (cyclonedx, spdx, sarif)."""
    name = {"cyclonedx": "bom-1.6.schema.json", "spdx": "spdx-schema-2.3.json", "sarif": "sarif-schema-2.1.0-errata01.json"}[kind]
    schema = _load(name)
    cls = jsonschema.validators.validator_for(schema)
    checker = cls.FORMAT_CHECKER
    # format checks must really run: jsonschema skips "uri"/"date-time" silently without their validators
    assert {"uri", "uri-reference", "date-time"} <= set(checker.checkers), "pip install jsonschema[format-nongpl]"
    validator = cls(schema, registry=_registry(), format_checker=checker)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
