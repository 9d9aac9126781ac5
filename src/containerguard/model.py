"""The domain model shared by every stage: frozen dataclasses, no behaviour beyond small helpers.

Stage-specific types live in their own package (e.g. ``vulndb`` records, ``runtime.rules`` ASTs);
only what crosses a stage boundary is here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Finding severity, ordered so that comparisons work (CRITICAL > HIGH)."""

    UNKNOWN = 0
    NEGLIGIBLE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @classmethod
    def parse(cls, text: str | None) -> Severity:
        """A severity from any feed's spelling (MODERATE, IMPORTANT, INFO, ...); UNKNOWN when unrecognised."""
        if not text:
            return cls.UNKNOWN
        t = text.strip().upper()
        aliases = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH", "NONE": "NEGLIGIBLE", "INFO": "NEGLIGIBLE",
                   "UNIMPORTANT": "NEGLIGIBLE", "NOT YET ASSIGNED": "UNKNOWN"}
        t = aliases.get(t, t)
        try:
            return cls[t]
        except KeyError:
            return cls.UNKNOWN


# --------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed TARGET: ``scheme`` is docker, docker-archive, oci, oci-archive, registry, dir, sbom or auto."""

    scheme: str
    ref: str  # the part after ``scheme:`` (image name, path, HOST/REPO:TAG ...)
    tag: str | None = None  # for oci:DIR:TAG

    def __str__(self) -> str:
        base = f"{self.scheme}:{self.ref}" if self.scheme != "auto" else self.ref
        return f"{base}:{self.tag}" if self.tag and self.scheme == "oci" else base


@dataclass(frozen=True, slots=True)
class Layer:
    """One image layer. ``digest`` is the (possibly compressed) blob digest, ``diff_id`` the uncompressed one."""

    index: int
    digest: str
    diff_id: str = ""
    size: int = 0
    created_by: str = ""  # the history command that created it (Dockerfile instruction)
    media_type: str = ""


@dataclass(frozen=True, slots=True)
class OSInfo:
    """The operating system of an image. ``family`` is a stable lowercase id; "unknown" when undetectable."""

    family: str = "unknown"  # debian, ubuntu, alpine, wolfi, chainguard, rhel, centos, rocky, alma, ol, fedora, amzn, sles, opensuse-leap, ...
    version: str = ""  # VERSION_ID (e.g. "12", "3.19.1", "9.3")
    name: str = ""  # PRETTY_NAME
    codename: str = ""
    distroless: bool = False
    eosl: bool = False

    @property
    def known(self) -> bool:
        """True when the OS family was identified."""
        return self.family != "unknown"


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package.

    ``type`` is the package type used in purls and by the detector: deb, apk, rpm, pypi, npm, golang,
    maven, gem, cargo, composer, nuget, hex, pub. ``locations`` are paths (inside the image) it was
    read from. ``layer`` is the layer that introduced it (None for dir: targets).
    """

    name: str
    version: str
    type: str
    purl: str = ""
    locations: tuple[str, ...] = ()
    layer: Layer | None = None
    arch: str = ""
    source_name: str = ""  # deb Source / apk origin / rpm source rpm name
    source_version: str = ""
    epoch: int | None = None
    release: str = ""
    licenses: tuple[str, ...] = ()
    analyzer: str = ""  # the analyzer type that produced it
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """(type, name, version): what identifies a package across inventories."""
        return (self.type, self.name, self.version)


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """What the image config says about itself."""

    id: str = ""  # config digest
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    architecture: str = ""
    os: str = ""
    created: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)  # the OCI image config ("config" section: Env, User, ...)
    history: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything known about what is inside an artifact: the SBOM."""

    target: str
    os: OSInfo
    packages: tuple[Package, ...]
    layers: tuple[Layer, ...] = ()
    image: ImageMeta | None = None
    warnings: tuple[str, ...] = ()
    created: str = ""  # ISO-8601 time the inventory was taken
    #: findings produced while walking the files (secrets, setuid binaries, keys), when such scanners ran
    file_findings: tuple[Finding, ...] = ()


# --------------------------------------------------------------------------- findings


class FindingKind(enum.StrEnum):
    """What a finding is about: a vulnerable or malicious package, a misconfiguration, a secret, a benchmark result."""
    VULNERABILITY = "vulnerability"
    MALICIOUS = "malicious-package"
    MISCONFIG = "misconfiguration"
    SECRET = "secret"  # noqa: S105 - a finding kind, not a password
    COMPLIANCE = "compliance"


@dataclass(frozen=True, slots=True)
class Advisory:
    """A vulnerability record as the detector sees it (one id, its aliases and scoring)."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: Severity = Severity.UNKNOWN
    severity_source: str = ""
    cvss_vector: str = ""
    cvss_score: float | None = None
    references: tuple[str, ...] = ()
    published: str = ""
    modified: str = ""
    cwes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of any check. Vulnerability-only fields stay empty for other kinds."""

    kind: FindingKind
    id: str
    title: str
    severity: Severity
    # where
    target: str = ""
    path: str = ""
    line: int | None = None
    layer: Layer | None = None
    # vulnerabilities
    package: Package | None = None
    aliases: tuple[str, ...] = ()
    fixed_versions: tuple[str, ...] = ()
    status: str = ""  # fixed | unfixed | will-not-fix | not-affected
    severity_source: str = ""
    cvss_vector: str = ""
    cvss_score: float | None = None
    epss: float | None = None
    epss_percentile: float | None = None
    kev: bool = False
    kev_date_added: str = ""
    kev_ransomware: bool = False
    risk: float = 0.0
    # misconfig / secrets
    description: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    cwe: tuple[str, ...] = ()
    match: str = ""  # masked evidence
    suppressed_by: str = ""  # ignore-file or VEX statement that suppressed it
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: what the finding is about, for merging what two scanners found about the same thing (a secret rule
    #: and an image check on one key file: ``file:etc/app/server.key#private-key``; one Env entry:
    #: ``config:Env[3]``). Set by the producer; the scanner merges on it; reports do not print it.
    subject: str = ""


def file_subject(path: str, what: str) -> str:
    """The :attr:`Finding.subject` of ``what`` (a secret rule id, ``private-key``, ...) found in the file at
    ``path`` (leading ``/`` or not: the same file)."""
    return f"file:{path.lstrip('/')}#{what}"


# --------------------------------------------------------------------------- runtime


class Priority(enum.IntEnum):
    """Falco priorities, ordered."""

    DEBUG = 0
    INFORMATIONAL = 1
    NOTICE = 2
    WARNING = 3
    ERROR = 4
    CRITICAL = 5
    ALERT = 6
    EMERGENCY = 7

    @classmethod
    def parse(cls, text: str) -> Priority:
        """A rule priority from its Falco spelling or a short alias (INFO, WARN, ERR, CRIT, EMERG)."""
        t = text.strip().upper()
        t = {"INFO": "INFORMATIONAL", "WARN": "WARNING", "ERR": "ERROR", "CRIT": "CRITICAL", "EMERG": "EMERGENCY"}.get(t, t)
        return cls[t]


@dataclass(frozen=True, slots=True)
class Event:
    """One runtime event.

    ``type`` is the Falco event type (execve, openat, connect, ... or a k8s audit verb source),
    ``time_ns`` the kernel timestamp, ``source`` "syscall" or "k8s_audit", and ``fields`` the flat
    Falco field map (proc.name, fd.name, container.id, ...) as recorded (see docs/events.md).
    """

    type: str
    time_ns: int
    fields: Mapping[str, Any]
    source: str = "syscall"


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule match. Serialises to Falco-compatible JSON (time, rule, priority, source, output, output_fields, tags)."""

    rule: str
    rule_id: str
    priority: Priority
    output: str
    time_ns: int
    source: str = "syscall"
    output_fields: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    container_id: str = ""
    container_name: str = ""
    image: str = ""
    responses: tuple[str, ...] = ()
