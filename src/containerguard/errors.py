"""The exception tree. Every error the library raises derives from ContainerGuardError.

    ContainerGuardError
    ├── UsageError              bad arguments or target syntax
    ├── ArtifactError           an image source cannot be opened or read
    │   ├── ArchiveError        a tar/gzip/zstd stream is corrupt or hostile
    │   ├── RegistryError       the registry refused, lied or misbehaved
    │   └── DigestMismatchError a blob or manifest does not match its digest
    ├── AnalyzerError           an analyzer could not parse a file it required
    ├── VersionError            a version string a comparator cannot parse
    ├── VulnDBError             the vulnerability database is missing, corrupt or cannot be built
    ├── DetectError             matching failed
    ├── MisconfigError          a Dockerfile / manifest / host check could not run
    ├── SecretsError            secret rules invalid or scanning failed
    ├── PolicyError             a policy or ignore/VEX file is invalid
    ├── ReportError             a report could not be rendered
    ├── RuntimeSensorError      the eBPF sensor or Docker event stream failed
    ├── RuleError               a rules file is invalid (names its file and line)
    └── ServerError             the central server failed

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


class RegistryError(ArtifactError):
    pass


class DigestMismatchError(ArtifactError):
    pass


class AnalyzerError(ContainerGuardError):
    pass


class VersionError(ContainerGuardError):
    pass


class VulnDBError(ContainerGuardError):
    pass


class DetectError(ContainerGuardError):
    pass


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
