"""Installed Python distributions: ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` (directory form),
``*.egg-info`` (single file form), ``*.egg`` (zip, ``EGG-INFO/PKG-INFO``; directory eggs through
``*.egg/EGG-INFO/PKG-INFO``). Names are PEP 503 normalised (``Django`` -> ``django``); the name as
written in the metadata is kept in ``metadata["name"]``.
"""

from __future__ import annotations

import zipfile
from typing import ClassVar

from containerguard.analyzer._util import open_zip, pep503, read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX_META = 16 * 1024 * 1024


def pypi_purl(name: str, version: str) -> str:
    return make_purl("pypi", pep503(name), version)


def parse_metadata(text: str, path: str, analyzer: str) -> tuple[Package | None, str | None]:
    """(package, warning) from core metadata text (RFC 822 headers; the body is the description)."""
    import email.parser  # imported on first use: a warm scan runs no analyzer

    msg = email.parser.HeaderParser().parsestr(text)
    name = (msg.get("Name") or "").strip()
    version = (msg.get("Version") or "").strip()
    if not name or not version:
        return None, f"{path}: metadata without Name/Version, skipped"
    licenses: list[str] = []
    expr = (msg.get("License-Expression") or "").strip()
    if expr:
        licenses.append(expr)
    else:
        lic = (msg.get("License") or "").strip()
        if lic and lic.upper() != "UNKNOWN" and "\n" not in lic and len(lic) < 100:
            licenses.append(lic)
        for classifier in msg.get_all("Classifier") or []:
            if classifier.startswith("License ::") and classifier.count("::") >= 2:
                licenses.append(classifier.split("::")[-1].strip())
    return Package(
        name=pep503(name), version=version, type="pypi", purl=pypi_purl(name, version), locations=(path,),
        licenses=tuple(dict.fromkeys(licenses)), analyzer=analyzer, metadata={"name": name},
    ), None


class PythonPackageAnalyzer(Analyzer):
    type: ClassVar[str] = "python-pkg"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg/EGG-INFO/PKG-INFO", ".egg-info",
                              ".egg"))

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        result = AnalysisResult()
        if inp.path.endswith(".egg"):
            try:
                with open_zip(inp.stream) as zf:  # the stream is seekable: read in place
                    info = zf.getinfo("EGG-INFO/PKG-INFO")
                    if info.file_size > _MAX_META:
                        raise AnalyzerError(f"{inp.path}: EGG-INFO/PKG-INFO too large")
                    text = zf.read(info).decode("utf-8", errors="replace")
            except KeyError:
                result.warnings.append(f"{inp.path}: egg without EGG-INFO/PKG-INFO")
                return result
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                raise AnalyzerError(f"{inp.path}: unreadable egg: {exc}") from exc
        else:
            text = read_text(inp.stream, _MAX_META, inp.path)
        pkg, warning = parse_metadata(text, inp.path, self.type)
        if pkg is not None:
            result.packages.append(pkg)
        if warning:
            result.warnings.append(warning)
        return result
