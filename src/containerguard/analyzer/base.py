"""The analyzer contract (Trivy's fanal idea, in Python).

An analyzer declares ``type`` and ``version`` (part of every cache key), a cheap ``required(path, mode)``
filter that sees only the path inside the image (no leading slash, '/'-separated, normalised) and the
file mode, and ``analyze(AnalyzerInput) -> AnalysisResult`` that parses one file. The walker opens only
files some analyzer requires and runs analyzers per layer; the applier merges layer results
(later layers win per path, whiteouts delete) and attributes each package to the layer that introduced it.

A :class:`ConfigAnalyzer` is the same idea for the image configuration (``Env``, ``User``, history): it
runs once per image, after the walk, and its findings join the file analyzers' in the inventory, so the
scanner merges every analyzer's findings in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from containerguard.model import Finding, ImageMeta, Layer, OSInfo, Package

#: words in an analyzer warning that say a whole input file was not read (the gate counts such files as
#: skipped inputs: ``--fail-on`` does not pass over them unless ``--skip-unreadable``)
UNREADABLE = "unreadable, 0 packages taken from it"


@dataclass(frozen=True, slots=True)
class AnalyzerInput:
    path: str  # inside the image, no leading slash
    size: int
    mode: int
    stream: IO[bytes]  # seekable, positioned at 0
    #: reads another file of the same tree by its path (same form as ``path``), bounded; ``None`` where
    #: the analysed file stands alone (an image layer). Raises AnalyzerError for a path outside the tree,
    #: a missing or a too-large file. Used to follow includes (requirements.txt ``-r``/``-c``).
    read_sibling: Callable[[str], bytes] | None = None
    #: scratch space shared by the analyzers of this one file (the walker passes the same dict to each): a
    #: parse several analyzers need is done once (the ELF headers, for the Go and Rust binary analyzers)
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AnalysisResult:
    packages: list[Package] = field(default_factory=list)
    os: OSInfo | None = None
    os_priority: int = 0  # higher wins when several files say what the OS is
    warnings: list[str] = field(default_factory=list)
    #: file-level findings (secrets, setuid binaries, keys ...) produced by scanners that use this contract
    findings: list[Finding] = field(default_factory=list)
    #: language-package manifests the OS package manager installed (dpkg ``info/*.list``, apk ``F:``/``R:``):
    #: the applier drops language packages read from them, as the OS package already reports that software
    system_files: list[str] = field(default_factory=list)

    def merge(self, other: AnalysisResult) -> None:
        self.packages.extend(other.packages)
        self.system_files.extend(other.system_files)
        self.warnings.extend(other.warnings)
        self.findings.extend(other.findings)
        if other.os is not None and (self.os is None or other.os_priority > self.os_priority):
            self.os, self.os_priority = other.os, other.os_priority


class Analyzer(ABC):
    type: ClassVar[str]
    version: ClassVar[int]
    #: files bigger than this are skipped with a counted warning
    max_size: ClassVar[int] = 256 * 1024 * 1024
    #: also analyse a wanted symlink's target as if it were at the link's path (an os-release or a package
    #: database reached through a link). False for analyzers that report a file's own content at its own
    #: path (secrets, keys): the target is analysed where it is, and a link would only report it twice.
    follows_links: ClassVar[bool] = True

    @abstractmethod
    def required(self, path: str, mode: int) -> bool:
        """Cheap filter on the path; must not touch the file."""

    @abstractmethod
    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        """Parse one file. Raise AnalyzerError for a file that cannot be parsed."""


class ConfigAnalyzer(ABC):
    """An analyzer of the image configuration, run once per image (not per file) after the layer walk."""

    type: ClassVar[str]
    version: ClassVar[int]

    @abstractmethod
    def analyze_config(self, meta: ImageMeta, layers: Sequence[Layer]) -> AnalysisResult:
        """Findings in ``meta`` (its config and history; history entries attributed to ``layers``)."""


#: file names language analyzers read a package from (python METADATA/PKG-INFO, npm package.json, gemspecs, jars)
_MANIFEST_NAMES = frozenset({"METADATA", "PKG-INFO", "package.json"})
_MANIFEST_SUFFIXES = (".egg-info", ".gemspec", ".jar", ".war", ".ear", ".egg")


def language_manifest(path: str) -> bool:
    """Whether an OS package's file is one a language analyzer would report a package from."""
    name = path.rpartition("/")[2]
    return name in _MANIFEST_NAMES or name.endswith(_MANIFEST_SUFFIXES)
