"""SecretAnalyzer: runs the secret scanner inside the image walker (analyzer contract)."""

from __future__ import annotations

import stat
from typing import ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.secrets.scanner import BINARY_SNIFF, DEFAULT_MAX_SIZE, SecretScanner, is_candidate_path


class SecretAnalyzer(Analyzer):
    """Scans regular text files under the size cap; findings carry the path (the walker adds the layer)."""

    type: ClassVar[str] = "secret"
    version: ClassVar[int] = 1
    max_size: ClassVar[int] = DEFAULT_MAX_SIZE

    def __init__(self, scanner: SecretScanner | None = None) -> None:
        self.scanner = scanner or SecretScanner(max_size=self.max_size)

    def required(self, path: str, mode: int) -> bool:
        if mode and not stat.S_ISREG(mode):
            return False
        return is_candidate_path(path)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        head = inp.stream.read(BINARY_SNIFF)
        if b"\x00" in head:
            return AnalysisResult()
        if inp.size > self.scanner.max_size:
            return AnalysisResult(warnings=[f"secrets: {inp.path}: larger than {self.scanner.max_size} bytes, not scanned"])
        data = head + inp.stream.read(self.scanner.max_size + 1 - len(head))
        outcome = self.scanner.scan(inp.path, data)
        res = AnalysisResult(findings=outcome.findings)
        if outcome.skipped == "too-large":
            res.warnings.append(f"secrets: {inp.path}: larger than {self.scanner.max_size} bytes, not scanned")
        return res
