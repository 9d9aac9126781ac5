"""The pydantic models that validate a native JSON document when it is read back (:func:`native.load_inventory`).

Kept apart from :mod:`containerguard.report.native` so that writing JSON (``sbom -f json``) never imports
pydantic nor builds these models; only loading a document does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from containerguard.model import Finding, FindingKind, Layer, Package, Severity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _LayerM(_Strict):
    index: int
    digest: str
    diff_id: str = ""
    size: int = 0
    created_by: str = ""
    media_type: str = ""

    def build(self) -> Layer:
        return Layer(self.index, self.digest, self.diff_id, self.size, self.created_by, self.media_type)


class _SourceM(_Strict):
    name: str = ""
    version: str = ""


class _PackageM(_Strict):
    name: str
    version: str
    type: str
    purl: str = ""
    locations: list[str] = Field(default_factory=list)
    layer: _LayerM | None = None
    arch: str = ""
    source: _SourceM = Field(default_factory=_SourceM)
    epoch: int | None = None
    release: str = ""
    licenses: list[str] = Field(default_factory=list)
    analyzer: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)

    def build(self) -> Package:
        return Package(
            name=self.name, version=self.version, type=self.type, purl=self.purl,
            locations=tuple(self.locations), layer=self.layer.build() if self.layer else None,
            arch=self.arch, source_name=self.source.name, source_version=self.source.version,
            epoch=self.epoch, release=self.release, licenses=tuple(self.licenses), analyzer=self.analyzer,
            metadata=dict(self.metadata),
        )


class _FindingM(_Strict):
    kind: FindingKind
    id: str
    title: str
    severity: str
    target: str = ""
    path: str = ""
    line: int | None = None
    layer: _LayerM | None = None
    package: _PackageM | None = None
    aliases: list[str] = Field(default_factory=list)
    fixed_versions: list[str] = Field(default_factory=list)
    status: str = ""
    severity_source: str = ""
    cvss_vector: str = ""
    cvss_score: float | None = None
    epss: float | None = None
    epss_percentile: float | None = None
    kev: bool = False
    kev_date_added: str = ""
    kev_ransomware: bool = False
    risk: float = 0.0
    description: str = ""
    remediation: str = ""
    references: list[str] = Field(default_factory=list)
    cwe: list[str] = Field(default_factory=list)
    match: str = ""
    suppressed_by: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> Finding:
        return Finding(
            kind=self.kind, id=self.id, title=self.title, severity=Severity.parse(self.severity),
            target=self.target, path=self.path, line=self.line,
            layer=self.layer.build() if self.layer else None,
            package=self.package.build() if self.package else None,
            aliases=tuple(self.aliases), fixed_versions=tuple(self.fixed_versions), status=self.status,
            severity_source=self.severity_source, cvss_vector=self.cvss_vector, cvss_score=self.cvss_score,
            epss=self.epss, epss_percentile=self.epss_percentile, kev=self.kev,
            kev_date_added=self.kev_date_added, kev_ransomware=self.kev_ransomware, risk=self.risk,
            description=self.description, remediation=self.remediation, references=tuple(self.references),
            cwe=tuple(self.cwe), match=self.match, suppressed_by=self.suppressed_by, extra=dict(self.extra),
        )


class _OSM(_Strict):
    family: str = "unknown"
    version: str = ""
    name: str = ""
    codename: str = ""
    distroless: bool = False
    eosl: bool = False


class _ImageM(_Strict):
    id: str = ""
    repo_tags: list[str] = Field(default_factory=list)
    repo_digests: list[str] = Field(default_factory=list)
    architecture: str = ""
    os: str = ""
    created: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)


class _InvMetaM(_Strict):
    target: str = ""
    created: str = ""
    warnings: list[str] = Field(default_factory=list)


class _DocM(_Strict):
    schema_version: int
    tool: dict[str, Any] = Field(default_factory=dict)
    target: str
    os: _OSM | None = None
    image: _ImageM | None = None
    layers: list[_LayerM] = Field(default_factory=list)
    packages: list[_PackageM] = Field(default_factory=list)
    file_findings: list[_FindingM] = Field(default_factory=list)
    inventory: _InvMetaM | None = None
    findings: list[_FindingM] = Field(default_factory=list)
    suppressed: list[_FindingM] = Field(default_factory=list)
