"""The exception tree. Every error the library raises derives from ContainerGuardError.

    ContainerGuardError
    ├── UsageError              bad arguments or target syntax
    ├── ArtifactError           an image source cannot be opened or read
    │   ├── ArchiveError        a tar/gzip/zstd stream is corrupt or hostile
    │   ├── RegistryError       the registry refused, lied or misbehaved
    │   └── DigestMismatchError a blob or manifest does not match its digest
    ├── CacheError              the layer cache directory is unusable or full
    ├── AnalyzerError           an analyzer could not parse a file it required
    ├── VersionError            a version string a comparator cannot parse
    ├── VulnDBError             the vulnerability database is missing, corrupt or cannot be built
    │   └── SourceCorrupt       a downloaded feed file is unreadable as a whole
    ├── MisconfigError          a Dockerfile / manifest / host check could not run
    ├── SecretsError            secret rules invalid or scanning failed
    ├── PolicyError             a policy or ignore/VEX file is invalid
    ├── ReportError             a report could not be rendered
    ├── RuntimeSensorError      the eBPF sensor or Docker event stream failed
    │   ├── EventFormatError    a recorded or streamed event is malformed (runtime/events.py)
    │   ├── AuditFormatError    a Kubernetes audit event is malformed (runtime/k8saudit.py)
    │   └── BaselineError       a behavioural baseline (store, import, edit) is invalid or unusable
    ├── RuleError               a rules file is invalid (names its file and line)
    └── ServerError             the central server failed

Every class is defined here except the two runtime leaves, which live beside their parsers. Matching
(detect/) has no error of its own: a bad database is a VulnDBError, a bad version a VersionError.
The CLI catches ContainerGuardError once, prints ``error: <message>`` on one line and exits 2.
"""

from __future__ import annotations


class ContainerGuardError(Exception):
    """Root of every error ContainerGuard raises on purpose."""


class UsageError(ContainerGuardError):
    pass


class ArtifactError(ContainerGuardError):
    pass


class ArchiveError(ArtifactError):
    pass


class LayerRefused(ArchiveError):
    """One layer exceeded its output or time bound (a decompression bomb): the scan goes on without it."""


class RegistryError(ArtifactError):
    pass


class DigestMismatchError(ArtifactError):
    pass


class CacheError(ContainerGuardError):
    pass


class AnalyzerError(ContainerGuardError):
    pass


class VersionError(ContainerGuardError):
    pass


class VulnDBError(ContainerGuardError):
    pass


class SourceCorrupt(VulnDBError):
    """The whole file is unreadable (truncated zip, not JSON, not gzip)."""


class MisconfigError(ContainerGuardError):
    pass


class SecretsError(ContainerGuardError):
    pass


class PolicyError(ContainerGuardError):
    pass


class ReportError(ContainerGuardError):
    pass


class RuntimeSensorError(ContainerGuardError):
    pass


class BaselineError(RuntimeSensorError):
    """A baseline file, edit or store problem; the message starts with ``file:line:`` when a file is at fault."""


class RuleError(ContainerGuardError):
    """A rules file problem. ``file`` and ``line`` locate it when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")


class ServerError(ContainerGuardError):
    pass
