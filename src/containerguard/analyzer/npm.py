"""Installed Node.js packages: ``node_modules/<name>/package.json`` and ``node_modules/@scope/<name>/package.json``
(at any depth of nesting; other package.json files, such as fixtures inside a package, are not packages).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX = 16 * 1024 * 1024


def npm_purl(name: str, version: str) -> str:
    if name.startswith("@") and "/" in name:
        scope, _, short = name.partition("/")
        return make_purl("npm", short, version, scope)
    return make_purl("npm", name, version)


def npm_licenses(doc: dict[str, Any]) -> tuple[str, ...]:
    lic = doc.get("license")
    out: list[str] = []
    if isinstance(lic, str):
        out.append(lic)
    elif isinstance(lic, dict) and isinstance(lic.get("type"), str):
        out.append(lic["type"])
    lics = doc.get("licenses")
    if isinstance(lics, list):
        for item in lics:
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                out.append(item["type"])
            elif isinstance(item, str):
                out.append(item)
    return tuple(dict.fromkeys(out))


def is_node_modules_manifest(path: str) -> bool:
    parts = path.split("/")
    if len(parts) < 3 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules" and not parts[-2].startswith("@"):
        return True
    return len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")


class NpmPackageAnalyzer(Analyzer):
    type: ClassVar[str] = "node-pkg"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path.endswith("/package.json") and is_node_modules_manifest(path)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        text = read_text(inp.stream, _MAX, inp.path)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise AnalyzerError(f"{inp.path}: invalid JSON: {exc}") from exc
        result = AnalysisResult()
        if not isinstance(doc, dict):
            raise AnalyzerError(f"{inp.path}: package.json is not an object")
        name, version = doc.get("name"), doc.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            result.warnings.append(f"{inp.path}: package.json without name/version, skipped")
            return result
        result.packages.append(Package(
            name=name, version=version, type="npm", purl=npm_purl(name, version), locations=(inp.path,),
            licenses=npm_licenses(doc), analyzer=self.type,
        ))
        return result
