"""Alpine/Wolfi packages from ``lib/apk/db/installed``.

The database is blank-line separated records of ``X:value`` lines: P name, V version, A arch,
o origin (the source package), L license, m maintainer; ``F:`` folder and ``R:`` file lines list what each
package installed (the language-package manifests among them are not reported again as language packages).
"""

from __future__ import annotations

from typing import ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput, language_manifest
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX = 64 * 1024 * 1024


def apk_purl(name: str, version: str, arch: str, vendor: str = "alpine", distro: str = "") -> str:
    return make_purl("apk", name, version, vendor, {"arch": arch, "distro": distro})


class ApkAnalyzer(Analyzer):
    type: ClassVar[str] = "apk"
    version: ClassVar[int] = 2

    def required(self, path: str, mode: int) -> bool:
        return path == "lib/apk/db/installed"

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        text = read_text(inp.stream, _MAX, inp.path)
        result = AnalysisResult()
        records: list[tuple[int, dict[str, str]]] = []
        cur: dict[str, str] = {}
        start = 1
        lines = 0
        folder = ""
        owned = result.system_files
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                if cur:
                    records.append((start, cur))
                cur, start = {}, lineno + 1
                continue
            if len(line) >= 2 and line[1] == ":":
                lines += 1
                key, value = line[0], line[2:]
                if key == "F":  # the files (R:) that follow are in this folder
                    folder = value.strip("/")
                elif key == "R" and language_manifest(value):
                    owned.append(f"{folder}/{value}" if folder else value)
                if key not in cur:  # file entries (F/R/Z...) repeat; the package keys do not
                    cur[key] = value
        if cur:
            records.append((start, cur))
        if not lines and text.strip():
            raise AnalyzerError(f"{inp.path}: not an apk installed database")
        for lineno, rec in records:
            name, version = rec.get("P", ""), rec.get("V", "")
            if not name or not version:
                result.warnings.append(f"{inp.path}:{lineno}: apk record without P/V, skipped")
                continue
            arch = rec.get("A", "")
            lic = (rec["L"],) if rec.get("L") else ()  # an SPDX expression, kept whole
            meta = {"maintainer": rec["m"]} if rec.get("m") else {}
            if rec.get("c"):
                meta["commit"] = rec["c"]
            result.packages.append(Package(
                name=name, version=version, type="apk", purl=apk_purl(name, version, arch),
                locations=(inp.path,), arch=arch, source_name=rec.get("o", "") or name,
                source_version=version, licenses=lic, analyzer=self.type, metadata=meta,
            ))
        return result
