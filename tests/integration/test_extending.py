"""Extending ContainerGuard as the README's contributing section says: one module plus one registration
line. A distribution written by this test registers an analyzer (``containerguard.analyzers``) and a report
format (``containerguard.reports``); the real `sbom` and `scan` commands then use both."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.report import plugins as report_plugins

#: the one new module: an analyzer for a made-up manifest format and a report format that prints lines
MODULE = textwrap.dedent('''
    from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
    from containerguard.model import Package
    from containerguard.report import Reporter


    class WidgetAnalyzer(Analyzer):
        """widgets.lock: one "name==version" per line."""

        type = "widgets"
        version = 1

        def required(self, path, mode):
            return path.rsplit("/", 1)[-1] == "widgets.lock"

        def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
            pkgs = []
            for line in inp.stream.read().decode().splitlines():
                name, _, ver = line.partition("==")
                if name and ver:
                    pkgs.append(Package(name=name.strip(), version=ver.strip(), type="generic",
                                        analyzer=self.type))
            return AnalysisResult(packages=pkgs)


    def _render(ctx):
        lines = [f"package {p.name} {p.version} ({p.analyzer})" for p in (ctx.inventory.packages if ctx.inventory else ())]
        lines += [f"finding {f.id} {f.path}" for f in ctx.findings]
        return "\\n".join(lines) + "\\n"


    REPORTER = Reporter("lines", "one line per package and finding", "text/plain", "txt", _render)
''')

#: the one registration line per extension, as a distribution's entry points declare them
ENTRY_POINTS = ("[containerguard.analyzers]\nwidgets = cg_ext_test:WidgetAnalyzer\n\n"
                "[containerguard.reports]\nlines = cg_ext_test:REPORTER\n")


@pytest.fixture()
def extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "cg_ext_test.py").write_text(MODULE)
    dist = site / "cg_ext_test-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cg-ext-test\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(report_plugins, "_loaded_plugins", False)
    monkeypatch.setattr(report_plugins, "REPORTERS", dict(report_plugins.REPORTERS))
    monkeypatch.setenv("CONTAINERGUARD_CACHE_DIR", str(tmp_path / "cache"))
    yield
    sys.modules.pop("cg_ext_test", None)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "widgets.lock").write_text("sprocket==1.2.3\ncog==0.9\n")
    # a secret for the scan's secret scanner: the plug-in format lists findings too
    (root / "app" / "settings.py").write_text('AWS_ACCESS_KEY_ID = "AKIAZ7XQ4P2LMN3OVR5T"\n')
    return root


def test_sbom_runs_the_registered_analyzer_and_format(extension: None, project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sbom", f"dir:{project}", "--format", "lines", "--quiet"])
    cap = capsys.readouterr()
    out = cap.out
    assert code == 0, cap.err
    assert "package sprocket 1.2.3 (widgets)" in out.splitlines()
    assert "package cog 0.9 (widgets)" in out.splitlines()


def test_scan_renders_in_the_registered_format(extension: None, project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", f"dir:{project}", "--scanners", "secret", "--format", "lines", "--quiet"])
    cap = capsys.readouterr()
    out = cap.out
    assert code == 0, cap.err
    assert "finding aws-access-key-id app/settings.py" in out.splitlines()


def test_without_the_extension_the_format_is_unknown(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sbom", f"dir:{project}", "--format", "lines", "--quiet"])
    assert code == 2
    assert "unknown format 'lines'" in capsys.readouterr().err


def test_a_config_analyzer_runs_once_over_the_image_config(tmp_path: Path) -> None:
    """The image-config side of the analyzer contract: one class, handed to the inventory builder."""
    from tests.fixtures import registry as reg

    from containerguard.analyzer.base import AnalysisResult, ConfigAnalyzer
    from containerguard.model import Finding, FindingKind, Severity
    from containerguard.scanner import build_inventory

    calls: list[int] = []

    class NoLabels(ConfigAnalyzer):
        type = "no-labels"
        version = 1

        def analyze_config(self, meta, layers):  # type: ignore[no-untyped-def]
            calls.append(len(layers))
            if meta.config.get("Labels"):
                return AnalysisResult()
            return AnalysisResult(findings=[Finding(FindingKind.MISCONFIG, "X-NOLABEL", "no labels",
                                                    Severity.LOW, path="config.Labels")])

    archive = reg.write_docker_archive(tmp_path / "img.tar", [reg.tar_bytes([("etc/a", "1\n")]),
                                                              reg.tar_bytes([("etc/b", "2\n")])])
    inv = build_inventory(f"docker-archive:{archive}", analyzers=[], cache=None, config_analyzers=[NoLabels()])
    assert calls == [2]
    assert [(f.id, f.path) for f in inv.file_findings] == [("X-NOLABEL", "config.Labels")]
