"""Third-party analyzers load from the ``containerguard.analyzers`` entry point group (a real distribution
on sys.path, found by importlib.metadata) and take part in the layer walk and the cache key."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.scanner.cache import LayerCache
from containerguard.scanner.inventory import analyzer_ids, build_inventory, default_analyzers

PLUGIN = textwrap.dedent('''
    from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
    from containerguard.model import Package

    class VersionFileAnalyzer(Analyzer):
        type = "versionfile"
        version = 3

        def required(self, path, mode):
            return path.endswith("/VERSION.cg")

        def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
            name = inp.path.split("/")[-2]
            return AnalysisResult(packages=[Package(name=name, version=inp.stream.read().decode().strip(),
                                                    type="generic", analyzer=self.type)])
''')


@pytest.fixture()
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "cg_test_plugin.py").write_text(PLUGIN)
    dist = site / "cg_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cg-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[containerguard.analyzers]\nversionfile = cg_test_plugin:VersionFileAnalyzer\n")
    monkeypatch.syspath_prepend(str(site))


def test_entry_point_analyzer_runs_in_the_walk(plugin: None, tmp_path: Path) -> None:
    ids = analyzer_ids(default_analyzers())
    assert ("versionfile", 3) in ids
    archive = reg.write_docker_archive(tmp_path / "img.tar", [
        reg.tar_bytes([("opt/widget/VERSION.cg", "4.2.0\n")]),
        reg.tar_bytes([("opt/gadget/VERSION.cg", "1.0\n")]),
    ])
    inv = build_inventory(f"docker-archive:{archive}", cache=LayerCache(tmp_path / "cache"))
    got = [(p.name, p.version, p.layer.index if p.layer else None) for p in inv.packages if p.type == "generic"]
    assert got == [("gadget", "1.0", 1), ("widget", "4.2.0", 0)]
