"""Run one analyzer on bytes, as the walker would hand them over."""

from __future__ import annotations

import io

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput


def run(analyzer: Analyzer, path: str, data: bytes | str, mode: int = 0o100644) -> AnalysisResult:
    raw = data.encode() if isinstance(data, str) else data
    assert analyzer.required(path, mode), f"{analyzer.type} does not require {path}"
    return analyzer.analyze(AnalyzerInput(path=path, size=len(raw), mode=mode, stream=io.BytesIO(raw)))
