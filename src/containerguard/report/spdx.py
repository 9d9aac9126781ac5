"""SPDX 2.3 JSON, built as plain dicts (the format is small and the dicts are validated against the
official SPDX 2.3 JSON schema in the tests; spdx-tools would add a heavy model for no gain here).

The document DESCRIBES the image (a CONTAINER package); the image CONTAINS every package; each package
has a purl external reference; ``documentNamespace`` is unique per document (a UUID).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from containerguard.model import Package
from containerguard.report.base import TOOL_NAME, ReportContext, json_text

NAMESPACE_BASE = "https://containerguard.dev/spdxdocs"
_ID_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


def spdx_id(kind: str, *parts: str) -> str:
    """An SPDX identifier: ``SPDXRef-`` + letters, digits, '.', '-' (a short hash keeps it unique)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]
    label = _ID_SAFE.sub("-", "-".join(p for p in parts[:2] if p))[:60].strip("-")
    return f"SPDXRef-{kind}-{label}-{digest}" if label else f"SPDXRef-{kind}-{digest}"


def _created(text: str) -> str:
    # SPDX wants YYYY-MM-DDThh:mm:ssZ
    t = text.replace("+00:00", "Z")
    t = re.sub(r"\.\d+", "", t)
    return t if t.endswith("Z") else t + "Z"


def _package(p: Package) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "SPDXID": spdx_id("Package", p.type, p.name, p.version, p.purl, *p.locations),
        "versionInfo": p.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "LIBRARY",
    }
    if p.purl:
        out["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                "referenceLocator": p.purl}]
    if p.licenses:
        out["licenseComments"] = "declared by the package metadata: " + "; ".join(p.licenses)
    info = []
    if p.layer is not None:
        info.append(f"layer {p.layer.index} {p.layer.digest}" + (f" created by: {p.layer.created_by}" if p.layer.created_by else ""))
    if p.locations:
        info.append("locations: " + ", ".join(p.locations))
    if p.source_name:
        info.append(f"source package: {p.source_name} {p.source_version}".rstrip())
    if info:
        out["sourceInfo"] = "; ".join(info)
    return out


def document(ctx: ReportContext) -> dict[str, Any]:
    inventory, target, tool_version = ctx.inventory, ctx.target, ctx.tool_version
    opts = ctx.options
    serial = opts.serial or str(uuid.uuid4())
    slug = _ID_SAFE.sub("-", target).strip("-") or "target"
    root_id = spdx_id("Image", target)
    root: dict[str, Any] = {
        "name": target,
        "SPDXID": root_id,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER" if inventory is not None and (inventory.image or inventory.layers) else "APPLICATION",
    }
    if inventory is not None and inventory.image is not None and inventory.image.id:
        root["versionInfo"] = inventory.image.id
    packages = [root]
    relationships: list[dict[str, str]] = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root_id}]
    if inventory is not None and inventory.os.known:
        os_pkg: dict[str, Any] = {
            "name": inventory.os.family,
            "SPDXID": spdx_id("OperatingSystem", inventory.os.family, inventory.os.version),
            "versionInfo": inventory.os.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        }
        packages.append(os_pkg)
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": os_pkg["SPDXID"]})
    seen: set[str] = set()
    for p in inventory.packages if inventory is not None else ():
        pkg = _package(p)
        if pkg["SPDXID"] in seen:
            continue
        seen.add(pkg["SPDXID"])
        packages.append(pkg)
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": pkg["SPDXID"]})
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": target,
        "documentNamespace": f"{NAMESPACE_BASE}/{slug}-{serial}",
        "creationInfo": {
            "created": _created(ctx.created),
            "creators": [f"Tool: {TOOL_NAME}-{tool_version}"],
        },
        "documentDescribes": [root_id],
        "packages": packages,
        "relationships": relationships,
    }


def render(ctx: ReportContext) -> str:
    return json_text(document(ctx))
