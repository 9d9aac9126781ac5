"""The built-in check catalog is read at run time from data/checks.json, compiled from data/checks.yaml: the
two never drift apart, and both go through the same explicit checks (a clear error for a bad entry)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from containerguard.errors import MisconfigError
from containerguard.misconfig.catalog import _data, build_catalog, catalog, compiled_text, load_catalog_text


def test_compiled_catalog_is_current() -> None:
    assert _data("checks.json") == compiled_text(), (
        "data/checks.json is stale: run .venv/bin/python -m containerguard.misconfig.catalog")


def test_compiled_and_yaml_catalogs_give_the_same_checks() -> None:
    assert load_catalog_text(_data("checks.yaml")) == catalog()
    assert len(catalog()) > 150


@pytest.mark.parametrize(("entry", "reason"), [
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "ddd"}, "CG-DF-900: remediation: missing"),
    ({"id": "CG-DF-900", "title": 7, "severity": "LOW", "description": "ddd", "remediation": "rrr"},
     "CG-DF-900: title: expected text"),
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "d", "remediation": "rrr"},
     "CG-DF-900: description: should have at least 3"),
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "ddd", "remediation": "rrr",
      "colour": "red"}, "CG-DF-900: colour: unknown key"),
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "ddd", "remediation": "rrr",
      "kind": "weird"}, "CG-DF-900: kind: unknown kind"),
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "ddd", "remediation": "rrr",
      "references": {"cwe": "CWE-1"}}, r"CG-DF-900: references.cwe: expected a list"),
    ({"id": "CG-DF-900", "title": "abc", "severity": "LOW", "description": "ddd", "remediation": "rrr",
      "references": {"owasp": "A1"}}, r"CG-DF-900: references.owasp: unknown key"),
    ("just text", r"#0: entry: expected a mapping"),
])
def test_bad_entries_are_refused_naming_the_entry_and_field(entry: object, reason: str) -> None:
    with pytest.raises(MisconfigError, match=f"^my.json: check {reason}"):
        build_catalog({"checks": [entry]}, "my.json")


def test_config_run_imports_neither_pydantic_nor_yaml_for_a_dockerfile(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The start-up cost of `config` (issue 9): a Dockerfile-only run needs no pydantic, no YAML, no Rich."""
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\n")
    code = f"""
        import json, sys
        from containerguard.cli.main import main
        rc = main(["config", "{tmp_path / 'Dockerfile'}", "-f", "json", "-q", "-o", "{tmp_path / 'out.json'}"])
        print(json.dumps({{"rc": rc, "modules": sorted(sys.modules)}}))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True,
                         timeout=120)
    res = json.loads(out.stdout)
    assert res["rc"] == 0
    ids = {f["id"] for f in json.loads((tmp_path / "out.json").read_text())["findings"]}
    assert "CG-DF-002" in ids  # no USER: the catalog was read
    heavy = [m for m in res["modules"] if m.split(".")[0] in ("pydantic", "yaml", "rich")]
    assert heavy == []
