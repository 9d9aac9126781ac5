"""PHP packages installed by Composer: ``vendor/composer/installed.json`` (v1: a list; v2: ``{"packages": [...]}``)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX = 64 * 1024 * 1024


def composer_purl(name: str, version: str) -> str:
    vendor, _, short = name.partition("/")
    return make_purl("composer", short or vendor, version, vendor if short else None)


def composer_packages(entries: list[Any], path: str, analyzer: str, result: AnalysisResult,
                      dev_names: frozenset[str] = frozenset()) -> None:
    for entry in entries:
        if not isinstance(entry, dict):
            result.warnings.append(f"{path}: composer entry is not an object")
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            result.warnings.append(f"{path}: composer entry without name/version")
            continue
        lic = entry.get("license")
        licenses = tuple(x for x in lic if isinstance(x, str)) if isinstance(lic, list) else \
            ((lic,) if isinstance(lic, str) else ())
        meta = {"dev": "true"} if name in dev_names else {}
        result.packages.append(Package(name=name, version=version, type="composer",
                                       purl=composer_purl(name, version), locations=(path,),
                                       licenses=licenses, analyzer=analyzer, metadata=meta))


class ComposerInstalledAnalyzer(Analyzer):
    type: ClassVar[str] = "composer-installed"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path.endswith("vendor/composer/installed.json")

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        try:
            doc = json.loads(read_text(inp.stream, _MAX, inp.path))
        except ValueError as exc:
            raise AnalyzerError(f"{inp.path}: invalid JSON: {exc}") from exc
        result = AnalysisResult()
        if isinstance(doc, list):  # Composer 1
            composer_packages(doc, inp.path, self.type, result)
        elif isinstance(doc, dict) and isinstance(doc.get("packages"), list):  # Composer 2
            dev = doc.get("dev-package-names")
            dev_names = frozenset(x for x in dev if isinstance(x, str)) if isinstance(dev, list) else frozenset()
            composer_packages(doc["packages"], inp.path, self.type, result, dev_names)
        else:
            raise AnalyzerError(f"{inp.path}: not a Composer installed.json")
        return result
