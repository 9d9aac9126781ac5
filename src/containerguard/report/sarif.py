"""SARIF 2.1.0 (validated in the tests against the 2.1.0 OASIS Standard schema with errata 01, format checks on).

``helpUri`` holds only an absolute URI (other references, such as CIS benchmark sections, go to the rule's
``properties.references``); artifact locations are percent-encoded URI references; suppressions carry
``status``.

One rule per finding id; results carry ``level``, a physical location (file path and line for secrets and
misconfigurations, the package's manifest path for vulnerabilities, with the purl as a logical location),
``partialFingerprints`` stable across runs, and ``suppressions`` for suppressed findings.
GitHub code scanning reads ``properties.security-severity``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from containerguard.model import Finding, FindingKind, Severity
from containerguard.report.base import TOOL_NAME, TOOL_URI, ReportContext, json_text, ordered

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNKNOWN: "note",
}
# GitHub's security-severity bands: critical >= 9.0, high >= 7.0, medium >= 4.0, low > 0
_SEC_SEV = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0",
            Severity.NEGLIGIBLE: "0.5", Severity.UNKNOWN: "0.0"}


def level(sev: Severity) -> str:
    return _LEVEL[sev]


def fingerprint(f: Finding) -> str:
    pkg = f.package
    parts = [f.kind.value, f.id, pkg.type if pkg else "", pkg.name if pkg else "", pkg.version if pkg else "",
             f.path, str(f.line or ""), f.match]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"{}|\\^`]+$")
#: characters left as they are in an artifactLocation uri (RFC 3986 unreserved, sub-delims, ":", "@", "/")
_URI_SAFE = "/:@!$&'()*+,;=-._~"


def is_uri(text: str) -> bool:
    """An absolute URI with an authority (``https://...``): what ``helpUri`` may hold."""
    return bool(_URI.match(text))


def uri_reference(path: str) -> str:
    """A file path or target as an RFC 3986 URI reference (spaces, brackets, non-ASCII percent-encoded)."""
    return quote(path, safe=_URI_SAFE)


def _uri(f: Finding, target: str) -> str:
    if f.path:
        return uri_reference(f.path.lstrip("/"))
    if f.package is not None and f.package.locations:
        return uri_reference(f.package.locations[0].lstrip("/"))
    return uri_reference(target)


def _message(f: Finding) -> str:
    if f.kind in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS) and f.package is not None:
        fix = f"fixed in {', '.join(f.fixed_versions)}" if f.fixed_versions else "no fix available"
        return (f"{f.package.name} {f.package.version} is affected by {f.id} ({f.severity.name}): "
                f"{f.title}; {fix}")
    text = f"{f.title} ({f.severity.name})"
    if f.match:
        text += f": {f.match}"
    return text


def _rule(f: Finding) -> dict[str, Any]:
    help_lines = [f.description or f.title]
    if f.remediation:
        help_lines.append(f"Remediation: {f.remediation}")
    if f.references:
        help_lines.append("References: " + " ".join(f.references))
    tags = ["security", f.kind.value, *f.cwe]
    rule: dict[str, Any] = {
        "id": f.id,
        "name": "".join(w.capitalize() for w in f.id.replace("_", "-").split("-") if w),
        "shortDescription": {"text": f.title or f.id},
        "fullDescription": {"text": f.description or f.title or f.id},
        "help": {"text": "\n".join(help_lines), "markdown": "\n\n".join(help_lines)},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {"security-severity": _sec_sev(f), "tags": tags, "precision": "very-high"},
    }
    links = [r for r in f.references if is_uri(r)]
    if links:
        rule["helpUri"] = links[0]
    others = [r for r in f.references if not is_uri(r)]  # benchmark sections ("CIS Docker 4.1"), ids
    if others:
        rule["properties"]["references"] = others
    return rule


def _sec_sev(f: Finding) -> str:
    if f.cvss_score is not None:
        return f"{f.cvss_score:.1f}"
    return _SEC_SEV[f.severity]


def _result(f: Finding, rule_index: int, target: str) -> dict[str, Any]:
    phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(f, target)}}
    if f.line:
        phys["region"] = {"startLine": f.line}
    location: dict[str, Any] = {"physicalLocation": phys}
    if f.package is not None and f.package.purl:
        location["logicalLocations"] = [{"fullyQualifiedName": f.package.purl, "kind": "package"}]
    res: dict[str, Any] = {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": _message(f)},
        "locations": [location],
        "partialFingerprints": {"containerguardFindingHash/v1": fingerprint(f)},
        "properties": {"kind": f.kind.value, "severity": f.severity.name, "risk": f.risk},
    }
    layer = f.layer or (f.package.layer if f.package else None)
    if layer is not None:
        res["properties"]["layer"] = {"index": layer.index, "digest": layer.digest, "created_by": layer.created_by}
    if f.package is not None:
        res["properties"].update({"package": f.package.name, "installedVersion": f.package.version,
                                  "purl": f.package.purl, "fixedVersions": list(f.fixed_versions)})
    if f.aliases:
        res["properties"]["aliases"] = list(f.aliases)
    if f.suppressed_by:
        res["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.suppressed_by}]
    return res


def document(ctx: ReportContext) -> dict[str, Any]:
    inventory, findings, target, tool_version = ctx.inventory, ctx.findings, ctx.target, ctx.tool_version
    opts = ctx.options
    everything = ordered(findings) + ordered(opts.suppressed)
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for f in everything:
        if f.id not in index:
            index[f.id] = len(rules)
            rules.append(_rule(f))
        results.append(_result(f, index[f.id], target))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL_NAME, "version": tool_version, "semanticVersion": tool_version,
                            "informationUri": TOOL_URI, "rules": rules}},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "properties": {"target": target},
    }
    if inventory is not None:
        run["properties"]["os"] = {"family": inventory.os.family, "version": inventory.os.version}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(ctx: ReportContext) -> str:
    return json_text(document(ctx))
