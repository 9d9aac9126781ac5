"""The registry: explicit built-ins, and third-party analyzers through the ``containerguard.analyzers``
entry point of an installed distribution (a real dist-info on sys.path, found by importlib.metadata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.analyzer.base import Analyzer
from containerguard.analyzer.plugins import analyzer_versions, builtin_analyzers, plugin_analyzers
from containerguard.errors import AnalyzerError


def test_builtins_are_distinct_and_versioned() -> None:
    analyzers = builtin_analyzers(lockfiles=True)
    types = [a.type for a in analyzers]
    assert len(types) == len(set(types))
    assert all(isinstance(a, Analyzer) and isinstance(a.version, int) and a.version >= 1 for a in analyzers)
    assert analyzer_versions(analyzers)["dpkg"] == 2
    # fresh instances each call: nothing shared between scans
    assert builtin_analyzers()[0] is not builtin_analyzers()[0]


def _plugin(tmp_path: Path, body: str, target: str) -> None:
    (tmp_path / f"{target.split(':')[0]}.py").write_text(body)
    dist = tmp_path / "cgplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cgplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[containerguard.analyzers]\nlicense-file = {target}\n")


def test_plugin_analyzer_from_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin(tmp_path, """
from containerguard.analyzer.base import AnalysisResult, Analyzer


class LicenseFile(Analyzer):
    type = "license-file"
    version = 3

    def required(self, path, mode):
        return path.endswith("/LICENSE")

    def analyze(self, inp):
        return AnalysisResult(warnings=[f"saw {inp.path}"])
""", "cgplug_good:LicenseFile")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = plugin_analyzers()
    assert [(a.type, a.version) for a in plugins] == [("license-file", 3)]
    assert plugins[0].required("usr/share/doc/x/LICENSE", 0o100644)


def test_broken_plugin_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin(tmp_path, "class NotAnAnalyzer:\n    pass\n", "cgplug_bad:NotAnAnalyzer")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AnalyzerError, match="'license-file' is not an Analyzer"):
        plugin_analyzers()
