"""Installed Ruby gems from ``specifications/*.gemspec`` (what ``gem install`` writes under GEM_HOME).

These files are generated Ruby; they are read with regular expressions, never evaluated.
"""

from __future__ import annotations

import re
from typing import ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX = 4 * 1024 * 1024
_NAME = re.compile(r"""^\s*\w+\.name\s*=\s*["']([^"']+)["']""", re.M)
_VERSION = re.compile(r"""^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\()?\s*["']([^"']+)["']""", re.M)
_LICENSES = re.compile(r"""^\s*\w+\.licenses?\s*=\s*(\[[^\]]*\]|["'][^"']*["'])""", re.M)
_QUOTED = re.compile(r"""["']([^"']+)["']""")
_FILENAME = re.compile(r"^(?P<name>.+)-(?P<version>\d[^-]*(?:-[a-z0-9_]+)?)\.gemspec$")


def gem_purl(name: str, version: str) -> str:
    return make_purl("gem", name, version)


class GemspecAnalyzer(Analyzer):
    type: ClassVar[str] = "gemspec"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path.endswith(".gemspec") and "/specifications/" in f"/{path}"

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        text = read_text(inp.stream, _MAX, inp.path)
        result = AnalysisResult()
        name_m, ver_m = _NAME.search(text), _VERSION.search(text)
        name = name_m.group(1) if name_m else ""
        version = ver_m.group(1) if ver_m else ""
        if not name or not version:
            m = _FILENAME.match(inp.path.rsplit("/", 1)[-1])
            if m:
                name, version = name or m.group("name"), version or m.group("version")
        if not name or not version:
            result.warnings.append(f"{inp.path}: gemspec without name/version, skipped")
            return result
        lic_m = _LICENSES.search(text)
        licenses = tuple(_QUOTED.findall(lic_m.group(1))) if lic_m else ()
        result.packages.append(Package(name=name, version=version, type="gem", purl=gem_purl(name, version),
                                       locations=(inp.path,), licenses=licenses, analyzer=self.type))
        return result
