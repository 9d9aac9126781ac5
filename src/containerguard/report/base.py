"""What every report format shares: the Reporter shape, ordering, summary counts, serialisation helpers.

A reporter is called as ``(inventory, findings, *, target, tool_version, options=None) -> str``; its render
function receives the same inputs as one ReportContext. ``inventory`` is None for finding-only reports;
``findings`` may be empty for SBOM-only reports. Secrets reach the
reporters already masked (``Finding.match``); no reporter ever sees the raw value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from containerguard.model import Finding, FindingKind, Inventory, Layer, Package, Severity

TOOL_NAME = "containerguard"
TOOL_URI = "https://github.com/containerguard/containerguard"

SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.NEGLIGIBLE, Severity.UNKNOWN)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Optional inputs every reporter accepts. Fixed ``created``/``serial`` make output deterministic."""

    created: str | None = None  # ISO-8601; default: now (UTC)
    serial: str | None = None  # document UUID (CycloneDX serialNumber, SPDX namespace); default: random
    suppressed: tuple[Finding, ...] = ()  # shown as suppressed where the format can say so
    expired_ignores: tuple[str, ...] = ()  # one line each, e.g. "CVE-1 (.containerguard-ignore.yaml:4)"
    width: int | None = None  # table width; default: 120 when not a terminal
    color: bool = False
    #: table/html: list the packages (an SBOM view). None: only when there is an inventory and no finding
    #: at all; `scan` passes False so that a clean image shows its "0 vulnerabilities" summary
    list_packages: bool | None = None
    #: the scanners that ran ("vuln", "secret", "misconfig"; see containerguard.scanner.scan): the summary line
    #: only counts those kinds. None: every kind
    scanners: frozenset[str] | None = None

    def show_packages(self, inventory: Inventory | None, findings: Sequence[Finding]) -> bool:
        if inventory is None:
            return False
        if self.list_packages is not None:
            return self.list_packages
        return not findings and not self.suppressed


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a format renders: the inventory (None for finding-only reports), the findings after the
    filters, the target as given, the tool version and the options."""

    inventory: Inventory | None
    findings: Sequence[Finding]
    target: str
    tool_version: str
    options: RenderOptions = RenderOptions()

    @property
    def created(self) -> str:
        return self.options.created or now_iso()


RenderFn = Callable[[ReportContext], str]


@dataclass(frozen=True, slots=True)
class Reporter:
    """A report format. Call it as ``reporter(inventory, findings, target=..., tool_version=..., options=...)``;
    ``render`` receives the same inputs as one :class:`ReportContext`."""

    name: str
    description: str
    media_type: str
    extension: str
    render: RenderFn

    def __call__(
        self,
        inventory: Inventory | None,
        findings: Sequence[Finding],
        *,
        target: str,
        tool_version: str,
        options: RenderOptions | None = None,
    ) -> str:
        return self.render(ReportContext(inventory, findings, target, tool_version, options or RenderOptions()))


def json_text(doc: Mapping[str, Any]) -> str:
    """``doc`` as indented JSON. orjson writes the same text as ``json.dumps(indent=2, ensure_ascii=False,
    default=str)`` some 20 times faster (the stdlib's encoder is pure Python once ``indent`` is set: 80 ms
    for 1,760 findings); the stdlib writes what orjson refuses (integers beyond 64 bits)."""
    import orjson

    opts = (orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_PASSTHROUGH_DATETIME)
    try:
        return orjson.dumps(doc, option=opts, default=str).decode("utf-8") + "\n"
    except TypeError:
        return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def order_key(f: Finding) -> tuple[Any, ...]:
    """Risk first (desc), then severity (desc), then a stable tie-break."""
    pkg = f.package
    return (-f.risk, -int(f.severity), f.kind.value, f.id, pkg.name if pkg else "", pkg.version if pkg else "",
            f.path, f.line or 0)


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in report order. Their text is printed as given: the scanner masked every secret in it
    (:mod:`containerguard.scanner.redact`) before any report sees it; a format never analyses."""
    return sorted(findings, key=order_key)


@dataclass(frozen=True, slots=True)
class Summary:
    vulnerabilities: int
    by_severity: Mapping[str, int]  # vulnerabilities per severity, lowercase names
    malicious: int
    misconfigurations: int
    secrets: int
    compliance: int
    suppressed: int = 0
    #: the scanners that ran; None: all of them (see RenderOptions.scanners)
    scanners: frozenset[str] | None = None

    def line(self) -> str:
        """One line of counts, naming only the kinds the scanners that ran can find (a kind that was
        not scanned is not "0"). A kind found anyway (e.g. from a stored document) is still counted."""
        ran = self.scanners
        parts: list[str] = []
        if ran is None or "vuln" in ran or self.vulnerabilities or self.malicious:
            sev = ", ".join(f"{self.by_severity[s.name.lower()]} {s.name.lower()}" for s in SEVERITY_ORDER)
            parts += [f"{self.vulnerabilities} vulnerabilities ({sev})", f"{self.malicious} malicious"]
        if ran is None or "misconfig" in ran or self.misconfigurations:
            parts.append(f"{self.misconfigurations} misconfigurations")
        if ran is None or "secret" in ran or self.secrets:
            parts.append(f"{self.secrets} secrets")
        if self.compliance:
            parts.append(f"{self.compliance} compliance")
        if self.suppressed:
            parts.append(f"{self.suppressed} suppressed")
        return " | ".join(parts) if parts else "no findings"

    def as_dict(self) -> dict[str, Any]:
        return {
            "vulnerabilities": self.vulnerabilities,
            "by_severity": dict(self.by_severity),
            "malicious": self.malicious,
            "misconfigurations": self.misconfigurations,
            "secrets": self.secrets,
            "compliance": self.compliance,
            "suppressed": self.suppressed,
        }


def summarize(findings: Sequence[Finding], suppressed: int = 0, scanners: frozenset[str] | None = None) -> Summary:
    by = {s.name.lower(): 0 for s in SEVERITY_ORDER}
    counts = dict.fromkeys(FindingKind, 0)
    for f in findings:
        counts[f.kind] += 1
        if f.kind is FindingKind.VULNERABILITY:
            by[f.severity.name.lower()] += 1
    return Summary(
        vulnerabilities=counts[FindingKind.VULNERABILITY],
        by_severity=by,
        malicious=counts[FindingKind.MALICIOUS],
        misconfigurations=counts[FindingKind.MISCONFIG],
        secrets=counts[FindingKind.SECRET],
        compliance=counts[FindingKind.COMPLIANCE],
        suppressed=suppressed,
        scanners=scanners,
    )


def where(f: Finding) -> str:
    """A short human location: path:line, or the package's first location."""
    if f.path:
        return f"{f.path}:{f.line}" if f.line else f.path
    if f.package is not None and f.package.locations:
        return f.package.locations[0]
    return f.target


# --------------------------------------------------------------------------- plain-data views


def _plain(value: Any) -> Any:
    if isinstance(value, Severity):
        return value.name
    if isinstance(value, FindingKind):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def layer_dict(layer: Layer | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}


def package_dict(p: Package) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "type": p.type,
        "purl": p.purl,
        "locations": list(p.locations),
        "layer": layer_dict(p.layer),
        "arch": p.arch,
        "source": {"name": p.source_name, "version": p.source_version},
        "epoch": p.epoch,
        "release": p.release,
        "licenses": list(p.licenses),
        "analyzer": p.analyzer,
        "metadata": dict(p.metadata),
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fld in dataclasses.fields(f):
        v = getattr(f, fld.name)
        if fld.name == "subject":  # the scanner's merge key, not part of any report
            continue
        if fld.name == "package":
            out["package"] = None if v is None else package_dict(v)
        elif fld.name == "layer":
            out["layer"] = layer_dict(v)
        else:
            out[fld.name] = _plain(v)
    return out


