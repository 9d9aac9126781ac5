"""SecretAnalyzer: runs the secret scanner (:mod:`containerguard.secrets`) inside the image walker."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from typing import ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput, ConfigAnalyzer
from containerguard.model import ImageMeta, Layer
from containerguard.secrets.scanner import (
    BINARY_SNIFF,
    DEFAULT_MAX_SIZE,
    SecretScanner,
    is_candidate_path,
    looks_binary,
    scan_image_config,
)

# Distribution-managed binary and package-manager directories: in image layers the walker copies every
# file an analyzer requires before it can look inside, and these hold compiled binaries (Debian minbase:
# 31 MB of the 34 MB left after the path filter). User scripts live in usr/local/bin, opt/, app/, home/,
# root/, etc/ ... which stay scanned; ``dir:`` scans (scan_directory) read only 8 KiB of each binary
# and keep these directories.
OS_BINARY_DIRS = (
    "usr/bin/", "usr/sbin/", "bin/", "sbin/", "usr/libexec/", "usr/lib/x86_64-linux-gnu/",
    "usr/lib/aarch64-linux-gnu/", "lib/x86_64-linux-gnu/", "lib/aarch64-linux-gnu/", "usr/lib/apt/",
    "usr/lib/gcc/", "lib/modules/", "usr/lib/modules/", "lib/firmware/", "usr/lib/firmware/",
    "var/lib/dpkg/", "var/lib/apt/", "var/cache/apt/", "var/cache/debconf/", "var/cache/ldconfig/",
    "var/lib/rpm/", "usr/lib/sysimage/rpm/", "lib/apk/db/",
)


class SecretAnalyzer(Analyzer):
    """Scans regular text files under the size cap; findings carry the path (the walker adds the layer)."""

    type: ClassVar[str] = "secret"
    #: part of the layer cache key: bump when rules.yaml changes what is found
    #: 3: findings carry their ``subject`` (the scanner merges on it); 4: symlinks no longer followed;
    #: 5: base64 values and UTF-16 text are scanned
    version: ClassVar[int] = 5
    max_size: ClassVar[int] = DEFAULT_MAX_SIZE
    follows_links: ClassVar[bool] = False  # a secret is reported once, at the file that holds it

    def __init__(self, scanner: SecretScanner | None = None) -> None:
        self.scanner = scanner or SecretScanner(max_size=self.max_size)

    def required(self, path: str, mode: int) -> bool:
        if mode and not stat.S_ISREG(mode):
            return False
        return not path.startswith(OS_BINARY_DIRS) and is_candidate_path(path)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        head = inp.stream.read(BINARY_SNIFF)
        if looks_binary(head):
            return AnalysisResult()
        if inp.size > self.scanner.max_size:
            return AnalysisResult(warnings=[f"secrets: {inp.path}: larger than {self.scanner.max_size} bytes, not scanned"])
        data = head + inp.stream.read(self.scanner.max_size + 1 - len(head))
        outcome = self.scanner.scan(inp.path, data)
        res = AnalysisResult(findings=outcome.findings)
        if outcome.skipped == "too-large":
            res.warnings.append(f"secrets: {inp.path}: larger than {self.scanner.max_size} bytes, not scanned")
        return res


class ImageConfigSecretAnalyzer(ConfigAnalyzer):
    """Secrets in the image configuration: ``Env`` entries and the history's commands (a secret passed to
    ``RUN`` or ``ARG`` stays readable in the image even when no file keeps it)."""

    type: ClassVar[str] = "secret-config"
    version: ClassVar[int] = 1

    def __init__(self, scanner: SecretScanner | None = None) -> None:
        self.scanner = scanner

    def analyze_config(self, meta: ImageMeta, layers: Sequence[Layer]) -> AnalysisResult:
        return AnalysisResult(findings=scan_image_config(meta, layers, scanner=self.scanner))
