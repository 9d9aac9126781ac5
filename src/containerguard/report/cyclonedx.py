"""CycloneDX 1.6 JSON, built with cyclonedx-python-lib (the CycloneDX project's own library, so the
output follows the specification's model and serialisation rules rather than hand-written dicts).

Components carry purls and ``containerguard:*`` properties for the layer and the file locations;
``metadata.component`` is the image; with findings, a ``vulnerabilities`` section has ratings, affects
(component ref + installed version) and, for VEX-suppressed findings, an ``analysis``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisState,
)
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from containerguard.errors import ReportError
from containerguard.model import Finding, FindingKind, Package, Severity
from containerguard.report.base import TOOL_NAME, ReportContext, ordered

_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.NEGLIGIBLE: VulnerabilitySeverity.INFO,
    Severity.UNKNOWN: VulnerabilitySeverity.UNKNOWN,
}
# OpenVEX justification -> CycloneDX analysis justification
_JUSTIFICATION = {
    "component_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_in_execute_path": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "vulnerable_code_cannot_be_controlled_by_adversary": ImpactAnalysisJustification.REQUIRES_ENVIRONMENT,
    "inline_mitigations_already_exist": ImpactAnalysisJustification.PROTECTED_BY_MITIGATING_CONTROL,
}


def _purl(p: Package) -> PackageURL | None:
    if not p.purl:
        return None
    try:
        return PackageURL.from_string(p.purl)
    except ValueError:
        return None


def _timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)


def _component(p: Package, ref: str) -> Component:
    props = [Property(name="containerguard:package:type", value=p.type)]
    if p.layer is not None:
        props += [
            Property(name="containerguard:layer:index", value=str(p.layer.index)),
            Property(name="containerguard:layer:digest", value=p.layer.digest),
        ]
        if p.layer.diff_id:
            props.append(Property(name="containerguard:layer:diff_id", value=p.layer.diff_id))
        if p.layer.created_by:
            props.append(Property(name="containerguard:layer:created_by", value=p.layer.created_by))
    props += [Property(name="containerguard:location", value=loc) for loc in p.locations]
    if p.source_name:
        props.append(Property(name="containerguard:package:source_name", value=p.source_name))
    if p.source_version:
        props.append(Property(name="containerguard:package:source_version", value=p.source_version))
    if p.arch:
        props.append(Property(name="containerguard:package:arch", value=p.arch))
    purl = _purl(p)
    return Component(
        name=p.name,
        version=p.version,
        type=ComponentType.LIBRARY,
        bom_ref=ref,
        purl=purl,
        group=purl.namespace if purl is not None and p.type in ("maven", "npm", "golang", "composer") else None,
        properties=props,
    )


def _ratings(f: Finding) -> list[VulnerabilityRating]:
    method = None
    if f.cvss_vector.startswith("CVSS:3.1"):
        method = VulnerabilityScoreSource.CVSS_V3_1
    elif f.cvss_vector.startswith("CVSS:3"):
        method = VulnerabilityScoreSource.CVSS_V3
    elif f.cvss_vector.startswith("CVSS:4"):
        method = VulnerabilityScoreSource.CVSS_V4
    elif f.cvss_vector.startswith("AV:"):
        method = VulnerabilityScoreSource.CVSS_V2
    score = None
    if f.cvss_score is not None:
        try:
            score = Decimal(str(f.cvss_score))
        except InvalidOperation:
            score = None
    source = VulnerabilitySource(name=f.severity_source) if f.severity_source else None
    return [VulnerabilityRating(source=source, score=score, severity=_SEVERITY[f.severity], method=method,
                                vector=f.cvss_vector or None)]


def _cwes(f: Finding) -> list[int]:
    out = []
    for c in f.cwe:
        digits = c.upper().removeprefix("CWE-")
        if digits.isdigit():
            out.append(int(digits))
    return out


def _analysis(f: Finding) -> VulnerabilityAnalysis | None:
    if not f.suppressed_by:
        return None
    sup = f.extra.get("suppression") if isinstance(f.extra, dict) else None
    info = sup if isinstance(sup, dict) else {}
    status = str(info.get("status", ""))
    state = {
        "not_affected": ImpactAnalysisState.NOT_AFFECTED,
        "fixed": ImpactAnalysisState.RESOLVED,
    }.get(status, ImpactAnalysisState.NOT_AFFECTED if info.get("source") == "vex" else ImpactAnalysisState.FALSE_POSITIVE)
    return VulnerabilityAnalysis(state=state, justification=_JUSTIFICATION.get(str(info.get("justification", ""))),
                                 detail=f.suppressed_by)


_Key = tuple[str, str, str, str, tuple[str, ...], int]


def _key(p: Package) -> _Key:
    """One component per package *instance*: the same name and version found at two paths (Go ``stdlib``
    in two binaries, two copies of lodash) stays two components, as the inventory has it."""
    return p.type, p.name, p.version, p.purl, p.locations, p.layer.index if p.layer is not None else -1


def build_bom(ctx: ReportContext) -> Bom:
    inventory, findings, target, tool_version = ctx.inventory, ctx.findings, ctx.target, ctx.tool_version
    opts = ctx.options
    serial = uuid.UUID(opts.serial) if opts.serial else uuid.uuid4()
    meta_props = []
    if inventory is not None:
        meta_props += [Property(name="containerguard:os:family", value=inventory.os.family),
                       Property(name="containerguard:os:version", value=inventory.os.version or "")]
        if inventory.image is not None and inventory.image.id:
            meta_props.append(Property(name="containerguard:image:id", value=inventory.image.id))
    is_image = inventory is not None and (inventory.image is not None or inventory.layers)
    root = Component(
        name=target,
        type=ComponentType.CONTAINER if is_image else ComponentType.APPLICATION,
        bom_ref="containerguard:target",
        version=(inventory.image.id if inventory is not None and inventory.image is not None and inventory.image.id else None),
    )
    tools = ToolRepository(components=[Component(type=ComponentType.APPLICATION, name=TOOL_NAME, version=tool_version,
                                                 bom_ref=f"{TOOL_NAME}@{tool_version}")])
    bom = Bom(
        serial_number=serial,
        metadata=BomMetaData(component=root, timestamp=_timestamp(ctx.created), tools=tools,
                             properties=meta_props),
    )
    refs: dict[_Key, str] = {}
    used: set[str] = set()
    packages = list(inventory.packages) if inventory is not None else []
    # packages only known through findings (finding-only reports) still need a component to refer to
    known = {_key(p) for p in packages}
    for f in [*findings, *opts.suppressed]:
        if f.package is not None and _key(f.package) not in known:
            known.add(_key(f.package))
            packages.append(f.package)
    if inventory is not None and inventory.os.known:
        bom.components.add(Component(name=inventory.os.family, version=inventory.os.version or None,
                                     type=ComponentType.OPERATING_SYSTEM, bom_ref="containerguard:os",
                                     description=inventory.os.name or None))
    children: list[Component] = []
    for p in packages:
        key = _key(p)
        if key in refs:
            continue
        ref = p.purl or f"{p.type}:{p.name}@{p.version}"
        n = 1
        while ref in used:
            n += 1
            ref = f"{p.purl or p.type + ':' + p.name + '@' + p.version}#{n}"
        used.add(ref)
        refs[key] = ref
        comp = _component(p, ref)
        bom.components.add(comp)
        children.append(comp)
    # the image contains every package: the root's dependency list makes the graph complete
    bom.register_dependency(root, children)
    for f in [*ordered(findings), *ordered(opts.suppressed)]:
        if f.kind not in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS) or f.package is None:
            continue
        p = f.package
        ref = refs[_key(p)]
        references = [VulnerabilityReference(id=a, source=VulnerabilitySource(name=a.split("-", 1)[0]))
                      for a in f.aliases]
        advisories_url = next((r for r in f.references if r.startswith(("http://", "https://"))), None)
        vuln = Vulnerability(
            bom_ref=f"{f.id}@{ref}",
            id=f.id,
            source=VulnerabilitySource(name=f.severity_source or None,
                                       url=XsUri(advisories_url) if advisories_url else None),
            references=references,
            ratings=_ratings(f),
            cwes=_cwes(f),
            description=f.title or None,
            detail=f.description or None,
            recommendation=(f"Upgrade {p.name} to {', '.join(f.fixed_versions)}" if f.fixed_versions else None),
            analysis=_analysis(f),
            affects=[BomTarget(ref=ref, versions=[BomTargetVersionRange(
                version=p.version, status=ImpactAnalysisAffectedStatus.AFFECTED)])],
            properties=[Property(name="containerguard:kind", value=f.kind.value),
                        Property(name="containerguard:risk", value=f"{f.risk:.2f}"),
                        *([Property(name="containerguard:kev", value="true")] if f.kev else []),
                        *([Property(name="containerguard:epss", value=str(f.epss))] if f.epss is not None else []),
                        *([Property(name="containerguard:status", value=f.status)] if f.status else [])],
        )
        bom.vulnerabilities.add(vuln)
    return bom


def render(ctx: ReportContext) -> str:
    bom = build_bom(ctx)
    try:
        return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"
    except Exception as exc:  # the library raises its own exception types for model inconsistencies
        raise ReportError(f"cannot render CycloneDX: {exc}") from exc
