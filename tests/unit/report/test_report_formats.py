"""Every report format on a fixed inventory + findings: official schemas, content a user checks, masking."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest
from report_sample import (
    CREATED,
    CURL,
    DJANGO,
    SECRET,
    SERIAL,
    TARGET,
    TOOL_VERSION,
    findings,
    inventory,
    options,
    suppressed,
)
from report_schemas import errors

from containerguard.errors import ReportError
from containerguard.model import Finding, FindingKind, Inventory, OSInfo, Severity
from containerguard.report import REPORTERS, available, get_reporter, load_findings, load_inventory, plugins
from containerguard.secrets import scan_bytes


def render(fmt: str, inv: Inventory | None = None, fs: list[Finding] | None = None, **kw: object) -> str:
    return get_reporter(fmt)(inventory() if inv is None else inv, findings() if fs is None else fs,
                             target=TARGET, tool_version=TOOL_VERSION, options=options(**kw))


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_builtin_format() -> None:
    assert {"table", "json", "cyclonedx", "spdx-json", "sarif", "html"} <= set(available())
    assert all(REPORTERS[name].name == name for name in REPORTERS)


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match=r"unknown report format 'xml' \(available: .*sarif"):
        get_reporter("xml")


def test_third_party_reporter_through_entry_point(tmp_path, monkeypatch) -> None:
    """A plug-in distribution on sys.path registers under containerguard.reports and is found by name."""
    (tmp_path / "cg_csv_report.py").write_text(textwrap.dedent("""
        from containerguard.report import Reporter

        def _render(ctx):
            return "".join(f"{f.id},{f.severity.name}\\n" for f in ctx.findings)

        REPORTER = Reporter("csv", "CSV lines", "text/csv", "csv", _render)
    """))
    dist = tmp_path / "cg_csv_report-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cg-csv-report\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[containerguard.reports]\ncsv = cg_csv_report:REPORTER\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_loaded_plugins", False)
    monkeypatch.setattr(plugins, "REPORTERS", dict(plugins.REPORTERS))
    out = plugins.get_reporter("csv")(None, findings(), target=TARGET, tool_version=TOOL_VERSION)
    assert "CVE-2023-38545,CRITICAL" in out.splitlines()
    assert "csv" in plugins.available()
    sys.modules.pop("cg_csv_report", None)


# --------------------------------------------------------------------------- native JSON


def test_native_json_round_trips_the_inventory() -> None:
    inv = inventory()
    text = render("json", inv)
    assert load_inventory(text) == inv


def test_native_json_round_trips_findings_and_suppressed() -> None:
    text = render("json")
    kept, supp = load_findings(text)
    assert sorted(kept, key=lambda f: f.id) == sorted(findings(), key=lambda f: f.id)
    assert supp == suppressed()


def test_native_json_fields_are_documented_names() -> None:
    doc = json.loads(render("json"))
    assert doc["schema_version"] == 1
    assert doc["tool"] == {"name": "containerguard", "version": TOOL_VERSION}
    assert doc["target"] == TARGET and doc["created"] == CREATED
    assert doc["os"]["family"] == "debian" and doc["os"]["version"] == "12"
    curl = next(p for p in doc["packages"] if p["name"] == "curl")
    assert curl["purl"] == CURL.purl
    assert curl["layer"]["index"] == 0 and curl["layer"]["digest"] == CURL.layer.digest
    assert curl["layer"]["created_by"] == "debootstrap bookworm"
    assert curl["source"] == {"name": "curl", "version": "7.88.1-10+deb12u1"}
    # findings are ordered by risk, highest first
    risks = [f["risk"] for f in doc["findings"]]
    assert risks == sorted(risks, reverse=True)
    assert doc["summary"]["vulnerabilities"] == 4 and doc["summary"]["by_severity"]["critical"] == 1
    assert doc["summary"]["malicious"] == 1 and doc["summary"]["secrets"] == 1
    assert doc["summary"]["misconfigurations"] == 1 and doc["summary"]["suppressed"] == 1
    assert doc["suppressed"][0]["suppressed_by"].startswith("vex vex.json: not_affected")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not ContainerGuard JSON: line 1"),
        ("[1, 2]", "no schema_version"),
        ('{"schema_version": 99, "target": "x"}', "unsupported ContainerGuard JSON schema_version 99"),
        ('{"schema_version": true, "target": "x"}', "unsupported ContainerGuard JSON schema_version True"),
        ('{"schema_version": 1, "target": "x", "os": {}, "packages": [{"name": "a"}]}', "packages.0.version"),
        ('{"schema_version": 1, "target": "x"}', "holds no inventory"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ],
)
def test_load_inventory_rejects_bad_documents(text: str, message: str) -> None:
    with pytest.raises(ReportError, match=re.escape(message)):
        load_inventory(text)


# --------------------------------------------------------------------------- CycloneDX


def test_cyclonedx_is_valid_against_the_official_1_6_schema() -> None:
    doc = json.loads(render("cyclonedx"))
    assert errors("cyclonedx", doc) == []
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"
    assert doc["serialNumber"] == f"urn:uuid:{SERIAL}"


def test_cyclonedx_library_strict_validator_agrees() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(render("cyclonedx")) is None


def test_cyclonedx_components_vulnerabilities_and_vex_analysis() -> None:
    doc = json.loads(render("cyclonedx"))
    assert doc["metadata"]["component"]["type"] == "container"
    assert doc["metadata"]["component"]["name"] == TARGET
    comps = {c["bom-ref"]: c for c in doc["components"]}
    django = comps[DJANGO.purl]
    assert django["purl"] == DJANGO.purl and django["version"] == "2.0"
    props = {p["name"]: p["value"] for p in django["properties"]}
    assert props["containerguard:layer:index"] == "1"
    assert props["containerguard:layer:digest"] == DJANGO.layer.digest
    assert props["containerguard:location"] == DJANGO.locations[0]
    assert any(c["type"] == "operating-system" and c["name"] == "debian" for c in doc["components"])
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    # only vulnerability and malicious-package findings go to the vulnerabilities section
    assert set(vulns) == {"CVE-2023-38545", "GHSA-x38m-7r5r-hg3m", "CVE-2023-4911", "CVE-2018-18074",
                          "MAL-2025-0001", "CVE-2024-2398"}
    for v in vulns.values():
        assert all(a["ref"] in comps for a in v["affects"])
    curl = vulns["CVE-2023-38545"]
    assert curl["ratings"][0]["score"] == 9.8 and curl["ratings"][0]["severity"] == "critical"
    assert curl["ratings"][0]["method"] == "CVSSv31" and curl["cwes"] == [787]
    assert curl["affects"][0]["versions"][0] == {"version": CURL.version, "status": "affected"}
    assert {r["id"] for r in vulns["GHSA-x38m-7r5r-hg3m"]["references"]} == {"CVE-2019-14234", "PYSEC-2019-11"}
    vex = vulns["CVE-2024-2398"]["analysis"]
    assert vex["state"] == "not_affected" and vex["justification"] == "code_not_reachable"


def test_cyclonedx_sbom_only_without_findings_is_valid() -> None:
    doc = json.loads(get_reporter("cyclonedx")(inventory(), [], target=TARGET, tool_version=TOOL_VERSION))
    assert errors("cyclonedx", doc) == []
    assert "vulnerabilities" not in doc or doc["vulnerabilities"] == []
    assert len([c for c in doc["components"] if c["type"] == "library"]) == len(inventory().packages)


# --------------------------------------------------------------------------- SPDX


def test_spdx_is_valid_against_the_official_2_3_schema() -> None:
    doc = json.loads(render("spdx-json"))
    assert errors("spdx", doc) == []
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"


def test_spdx_document_passes_spdx_tools_validation(tmp_path) -> None:
    """The SPDX project's own parser and validator (spdx-tools) accept the document."""
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "sbom.spdx.json"
    path.write_text(render("spdx-json"))
    document = parse_file(str(path))
    assert validate_full_spdx_document(document) == []
    assert len(document.packages) == 1 + 1 + len(inventory().packages)  # image, OS, packages


def test_spdx_relationships_purls_and_unique_namespace() -> None:
    doc = json.loads(render("spdx-json"))
    root = doc["documentDescribes"][0]
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", root) in rels
    pkgs = {p["SPDXID"]: p for p in doc["packages"]}
    assert pkgs[root]["primaryPackagePurpose"] == "CONTAINER"
    contained = {rel for (src, kind, rel) in rels if src == root and kind == "CONTAINS"}
    assert contained == set(pkgs) - {root}
    purls = {ref["referenceLocator"] for p in doc["packages"] for ref in p.get("externalRefs", [])}
    assert purls == {p.purl for p in inventory().packages}
    a = json.loads(get_reporter("spdx-json")(inventory(), [], target=TARGET, tool_version=TOOL_VERSION))
    b = json.loads(get_reporter("spdx-json")(inventory(), [], target=TARGET, tool_version=TOOL_VERSION))
    assert a["documentNamespace"] != b["documentNamespace"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["creationInfo"]["created"])


# --------------------------------------------------------------------------- SARIF


def test_sarif_is_valid_against_the_official_2_1_0_schema() -> None:
    doc = json.loads(render("sarif"))
    assert errors("sarif", doc) == []
    assert doc["version"] == "2.1.0"


def test_sarif_rules_results_levels_locations_fingerprints() -> None:
    doc = json.loads(render("sarif"))
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len({r["id"] for r in rules}) == len(rules)
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["partialFingerprints"]["containerguardFindingHash/v1"]
    by_id = {r["ruleId"]: r for r in results}
    assert by_id["CVE-2023-38545"]["level"] == "error"
    assert by_id["CVE-2018-18074"]["level"] == "warning"
    secret = by_id["aws-access-key-id"]
    loc = secret["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app/config/settings.env" and loc["region"]["startLine"] == 3
    assert "AKIA****" in secret["message"]["text"]
    misconf = by_id["DS002"]["locations"][0]["physicalLocation"]
    assert misconf["artifactLocation"]["uri"] == "Dockerfile" and misconf["region"]["startLine"] == 12
    vuln = by_id["CVE-2023-38545"]["locations"][0]
    assert vuln["physicalLocation"]["artifactLocation"]["uri"] == "var/lib/dpkg/status"
    assert vuln["logicalLocations"][0]["fullyQualifiedName"] == CURL.purl
    rule = next(r for r in rules if r["id"] == "CVE-2023-38545")
    assert rule["properties"]["security-severity"] == "9.8"
    assert rule["helpUri"] == "https://curl.se/docs/CVE-2023-38545.html"
    assert "Remediation" not in rule["help"]["text"] or rule["help"]["text"]
    supp = by_id["CVE-2024-2398"]["suppressions"][0]
    assert supp["kind"] == "external" and "vulnerable_code_not_in_execute_path" in supp["justification"]


def test_sarif_fingerprints_are_stable_across_runs() -> None:
    a = json.loads(render("sarif", created="2020-01-01T00:00:00Z"))
    b = json.loads(get_reporter("sarif")(inventory(), list(reversed(findings())), target=TARGET, tool_version="9.9.9"))
    fa = {r["ruleId"]: r["partialFingerprints"] for r in a["runs"][0]["results"]}
    fb = {r["ruleId"]: r["partialFingerprints"] for r in b["runs"][0]["results"]}
    assert {k: fa[k] for k in fb} == fb


# --------------------------------------------------------------------------- table


def test_table_summary_line_and_risk_order() -> None:
    out = render("table").replace(" |\n", " | ")  # the summary wraps at its parts to fit the terminal
    assert (f"{TARGET}: 4 vulnerabilities (1 critical, 2 high, 1 medium, 0 low, 0 negligible, 0 unknown) | "
            "1 malicious | 1 misconfigurations | 1 secrets | 1 suppressed") in out
    vulns = out[out.index("Vulnerabilities"):out.index("Secrets")]
    assert vulns.index("GHSA-x38m-7r5r-hg3m") < vulns.index("CVE-2023-38545") < vulns.index("CVE-2023-4911")
    assert out.index("Malicious packages") < out.index("Vulnerabilities")
    assert "GHSA-x38m-7r5r-hg3m KEV" in out
    assert "expired ignore entry no longer suppresses: CVE-2022-0001" in out


def test_table_sbom_lists_packages_with_type_version_layer() -> None:
    out = get_reporter("table")(inventory(), [], target=TARGET, tool_version=TOOL_VERSION,
                                options=options(suppressed=(), expired_ignores=()))
    assert "Debian GNU/Linux 12 (bookworm) 12): 5 packages" in out
    row = next(line for line in out.splitlines() if line.startswith("│ django "))
    assert "2.0" in row and "pypi" in row and "1: RUN pip install" in row


def test_table_without_findings_says_zero() -> None:
    out = get_reporter("table")(None, [], target="dir:/src", tool_version=TOOL_VERSION)
    assert "dir:/src: 0 vulnerabilities (0 critical" in out


# --------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_escapes_image_content() -> None:
    out = render("html")
    assert out.startswith("<!DOCTYPE html>")
    # one inline script (sort/filter), admitted by the CSP through its hash; nothing loaded from elsewhere
    from containerguard.report.html import SCRIPT_HASH

    assert out.count("<script") == 1 and "<script>" in out
    assert f"script-src '{SCRIPT_HASH}'" in out and "default-src 'none'" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert not re.search(r"""src\s*=\s*["']?(?:https?:)?//""", out)
    assert "<link" not in out and "@import" not in out
    assert "4 vulnerabilities (1 critical, 2 high" in out
    assert "vulnerable_code_not_in_execute_path" in out  # suppressed with justification


# --------------------------------------------------------------------------- secrets never leak


def test_no_format_prints_a_raw_secret() -> None:
    token = "ghp_" + "Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0aY5uE2i"
    found = scan_bytes("app/.env", f"GITHUB_TOKEN={token}\n".encode())
    assert [f.id for f in found] == ["github-token"]
    fs = [*findings(), *found]
    for fmt in available():
        out = get_reporter(fmt)(inventory(), fs, target=TARGET, tool_version=TOOL_VERSION, options=options())
        assert token not in out, fmt
        assert token[4:] not in out, fmt
    assert found[0].match == "ghp_****"


def test_secret_layer_is_reported() -> None:
    assert SECRET.layer is not None
    doc = json.loads(render("json"))
    sec = next(f for f in doc["findings"] if f["kind"] == "secret")
    assert sec["layer"]["created_by"] == "COPY config/ /app/config/" and sec["path"] == "app/config/settings.env"


def test_empty_inventory_renders_in_every_format() -> None:
    inv = Inventory(target="dir:/empty", os=OSInfo(), packages=())
    for fmt in available():
        out = get_reporter(fmt)(inv, [], target="dir:/empty", tool_version=TOOL_VERSION)
        assert out.strip(), fmt
    doc = json.loads(get_reporter("sarif")(inv, [], target="dir:/empty", tool_version=TOOL_VERSION))
    assert errors("sarif", doc) == [] and doc["runs"][0]["results"] == []
    spdx = json.loads(get_reporter("spdx-json")(inv, [], target="dir:/empty", tool_version=TOOL_VERSION))
    assert errors("spdx", spdx) == []


def test_unknown_severity_and_no_package_still_valid() -> None:
    odd = Finding(kind=FindingKind.COMPLIANCE, id="CIS-4.1", title="t", severity=Severity.UNKNOWN)
    for kind, fmt in (("sarif", "sarif"), ("cyclonedx", "cyclonedx")):
        doc = json.loads(get_reporter(fmt)(inventory(), [odd], target=TARGET, tool_version=TOOL_VERSION))
        assert errors(kind, doc) == []


def test_secrets_in_layer_commands_and_image_config_are_masked_before_reports() -> None:
    import dataclasses

    token = "glpat-Vx9Lm2Qb7Tk4Rw8Zp1Nc"
    layer = dataclasses.replace(inventory().layers[2], created_by=f"RUN echo {token} > /root/.token")
    pkgs = tuple(dataclasses.replace(p, layer=layer) for p in inventory().packages)
    meta = dataclasses.replace(inventory().image, config={"Env": [f"GITLAB_TOKEN={token}"]},
                               history=({"created_by": f"RUN echo {token}"},))
    misconf = Finding(kind=FindingKind.MISCONFIG, id="DS-ENV-SECRET", title=f"Secret in ENV GITLAB_TOKEN={token}",
                      severity=Severity.HIGH, path="Dockerfile", line=3, layer=layer, match=f"ENV GITLAB_TOKEN={token}")
    raw = dataclasses.replace(inventory(), packages=pkgs, layers=(*inventory().layers[:2], layer), image=meta)
    # the scanner masks once, before any report sees the data (scanner/redact.py); reports print as given
    from containerguard.scanner import redact_findings, redact_inventory
    from containerguard.scanner.redact import redacted_layers

    inv = redact_inventory(raw)
    found = list(redact_findings([misconf], redacted_layers(raw)))
    assert inv.packages[0].layer is inv.layers[2] and found[0].layer == inv.layers[2]
    for fmt in available():
        out = get_reporter(fmt)(inv, found, target=TARGET, tool_version=TOOL_VERSION, options=options())
        assert token not in out and token[6:] not in out, fmt
    doc = json.loads(get_reporter("json")(inv, found, target=TARGET, tool_version=TOOL_VERSION))
    assert doc["layers"][2]["created_by"] == "RUN echo glpa**** > /root/.token"
    assert doc["findings"][0]["match"] == "ENV GITLAB_TOKEN=glpa****"


def test_table_for_a_clean_scan_shows_the_zero_summary_not_the_package_list() -> None:
    out = get_reporter("table")(inventory(), [], target=TARGET, tool_version=TOOL_VERSION,
                                options=options(suppressed=(), list_packages=False))
    assert "Packages" not in out and "│ django " not in out
    assert f"{TARGET}: 0 vulnerabilities (0 critical, 0 high" in out
    listed = get_reporter("table")(inventory(), findings(), target=TARGET, tool_version=TOOL_VERSION,
                                   options=options(list_packages=True))
    assert "│ django " in listed and "4 vulnerabilities" not in listed.splitlines()[0]
