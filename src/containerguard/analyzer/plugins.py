"""The one list of built-in analyzers (explicit registration; no import side effects).

``builtin_analyzers()`` is what an image scan runs. Source trees (``dir:`` targets that are projects, not
root filesystems) also want the lockfile analyzers: ``builtin_analyzers(lockfiles=True)``.
Third-party analyzers come from the ``containerguard.analyzers`` entry point group: ``plugin_analyzers()``.
"""

from __future__ import annotations

from containerguard.analyzer.apk import ApkAnalyzer
from containerguard.analyzer.base import Analyzer
from containerguard.analyzer.dpkg import DpkgAnalyzer
from containerguard.analyzer.golang import GoBinaryAnalyzer
from containerguard.analyzer.java import JavaArchiveAnalyzer
from containerguard.analyzer.npm import NpmPackageAnalyzer
from containerguard.analyzer.os import OSAnalyzer
from containerguard.analyzer.php import ComposerInstalledAnalyzer
from containerguard.analyzer.python import PythonPackageAnalyzer
from containerguard.analyzer.rpm import RpmAnalyzer
from containerguard.analyzer.ruby import GemspecAnalyzer
from containerguard.analyzer.rust import RustBinaryAnalyzer
from containerguard.errors import AnalyzerError


def builtin_analyzers(*, lockfiles: bool = False) -> list[Analyzer]:
    """Fresh instances of every built-in analyzer (analyzers are stateless; instances are cheap)."""
    analyzers: list[Analyzer] = [
        OSAnalyzer(),
        DpkgAnalyzer(),
        ApkAnalyzer(),
        RpmAnalyzer(),
        PythonPackageAnalyzer(),
        NpmPackageAnalyzer(),
        GoBinaryAnalyzer(),
        RustBinaryAnalyzer(),
        JavaArchiveAnalyzer(),
        GemspecAnalyzer(),
        ComposerInstalledAnalyzer(),
    ]
    if lockfiles:  # only source trees need them (and their YAML/TOML parsers)
        from containerguard.analyzer.lockfiles import lockfile_analyzers

        analyzers.extend(lockfile_analyzers())
    return analyzers


def plugin_analyzers() -> list[Analyzer]:
    """Analyzers that installed distributions declare under the ``containerguard.analyzers`` entry point."""
    from importlib.metadata import entry_points

    out: list[Analyzer] = []
    for ep in entry_points(group="containerguard.analyzers"):
        try:
            cls = ep.load()
            inst = cls()
        except Exception as exc:  # a broken plugin must not break scans: name it
            raise AnalyzerError(f"analyzer plugin {ep.name!r} failed to load: {exc}") from exc
        if not isinstance(inst, Analyzer):
            raise AnalyzerError(f"analyzer plugin {ep.name!r} is not an Analyzer")
        out.append(inst)
    return out


def analyzer_versions(analyzers: list[Analyzer]) -> dict[str, int]:
    """``{type: version}`` for cache keys."""
    return {a.type: a.version for a in analyzers}
