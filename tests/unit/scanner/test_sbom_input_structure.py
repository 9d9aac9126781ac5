"""An SBOM whose package list is not a list of objects is an error, not an empty SBOM (which would pass a
vulnerability gate it never met): ``"packages": 5`` in SPDX was an internal error (exit 3), CycloneDX
``"components": {...}`` read as zero packages without a word. Entries that give no package are counted
in a warning."""

from __future__ import annotations

import json

import pytest

from containerguard.errors import ReportError
from containerguard.scanner.sbom_input import parse_inventory

CDX = {"bomFormat": "CycloneDX", "specVersion": "1.5"}
SPDX = {"spdxVersion": "SPDX-2.3", "name": "doc"}


@pytest.mark.parametrize("doc,where", [
    ({**CDX, "components": {"a": 1}}, "CycloneDX: components is not a list"),
    ({**CDX, "components": "pkg:npm/a@1"}, "CycloneDX: components is not a list"),
    ({**CDX, "components": [1]}, r"CycloneDX: components\[0\] is not an object"),
    ({**CDX, "components": [{"name": "a", "components": 7}]}, r"components\[0\]\.components is not a list"),
    ({**SPDX, "packages": 5}, "SPDX: packages is not a list"),
    ({**SPDX, "packages": "abc"}, "SPDX: packages is not a list"),
    ({**SPDX, "packages": [None]}, r"SPDX: packages\[0\] is not an object"),
    ({**SPDX, "packages": [{"externalRefs": 5}]}, r"packages\[0\]\.externalRefs is not a list"),
    ({**SPDX, "packages": [{"externalRefs": ["pkg:npm/a@1"]}]}, r"externalRefs\[0\] is not an object"),
])
def test_package_list_that_is_not_one_is_refused(doc: dict[str, object], where: str) -> None:
    with pytest.raises(ReportError, match=f"^in.json: not valid {where}" if where.startswith(("CycloneDX", "SPDX"))
                       else where) as exc:
        parse_inventory(json.dumps(doc), "in.json")
    assert "\n" not in str(exc.value)


def test_components_that_give_no_package_are_counted() -> None:
    doc = {**CDX, "components": [
        {"type": "library", "name": "a", "version": "1"},  # no purl
        {"type": "library", "purl": "pkg:npm/b"},  # no version
        {"type": "library", "purl": "pkg:"},  # malformed
        {"type": "library", "purl": "pkg:npm/ok@1.0.0"},
        {"type": "file", "name": "README"},  # not a package: not counted
        {"type": "operating-system", "name": "alpine", "version": "3.19"},
    ]}
    inv = parse_inventory(json.dumps(doc), "in.json")
    assert [p.name for p in inv.packages] == ["ok"] and inv.os.family == "alpine"
    assert inv.warnings == (
        "in.json: 2 components skipped: their purl is malformed, has no version or is of a type with no advisories",
        "in.json: 1 components without a purl skipped (nothing to match them by)")


def test_spdx_packages_that_give_no_package_are_counted() -> None:
    doc = {**SPDX, "packages": [
        {"name": "image", "primaryPackagePurpose": "CONTAINER"},  # the document's subject: not counted
        {"name": "lib", "versionInfo": "1"},
        {"name": "x", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:npm/%ZZ"}]},
        {"name": "ok", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:pypi/six@1.16.0"}]},
    ]}
    inv = parse_inventory(json.dumps(doc), "in.json")
    assert [p.name for p in inv.packages] == ["six"]
    assert len(inv.warnings) == 2 and "1 packages skipped" in inv.warnings[0] and "1 packages without a purl" in inv.warnings[1]


def test_well_formed_documents_give_no_warning() -> None:
    assert parse_inventory(json.dumps({**CDX, "components": []}), "a").warnings == ()
    assert parse_inventory(json.dumps(CDX), "a").packages == ()  # no components at all is an empty SBOM
    assert parse_inventory(json.dumps(SPDX), "a").warnings == ()
