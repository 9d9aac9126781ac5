"""Debian packages from ``var/lib/dpkg/status`` and distroless ``var/lib/dpkg/status.d/*``.

Only installed entries count (``Status: ... installed``; status.d entries carry no Status and are all
installed). ``Package.version`` is the full dpkg version string, epoch included ("1:2.36-9"), as
``dpkg-query`` prints it and as Debian's security tracker compares it; ``source_name``/``source_version``
come from ``Source: name (version)``, defaulting to the binary package's. ``var/lib/dpkg/info/*.list`` give the
language-package manifests dpkg installed (``python3-yaml``'s ``PyYAML-6.0.egg-info``), which the applier does
not report a second time as language packages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput, language_manifest
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")
_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*$")
_MAX = 64 * 1024 * 1024


def deb_purl(name: str, version: str, arch: str, vendor: str = "debian", distro: str = "") -> str:
    """The one place deb purls are made; the applier may later set vendor/distro from the detected OS."""
    return make_purl("deb", name, version, vendor, {"arch": arch, "distro": distro})


def paragraphs(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """RFC 822-style stanzas: (first line number, {Field: value}); continuation lines are appended.
    Linear in the text: a field's lines are gathered in a list and joined once (a stanza of millions of
    continuation lines, built by appending to a string, took quadratic time and hung the scan)."""
    fields: dict[str, list[str]] = {}
    start = 1
    last: list[str] | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                yield start, {k: "\n".join(v) for k, v in fields.items()}
            fields, last = {}, None
            start = lineno + 1
            continue
        if line[0] in " \t":
            if last is not None:
                last.append(line.strip())
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = fields[key.strip()] = [value.strip()]
    if fields:
        yield start, {k: "\n".join(v) for k, v in fields.items()}


def _installed(fields: dict[str, str]) -> bool:
    status = fields.get("Status")
    if status is None:  # distroless status.d entries
        return True
    words = status.split()
    return len(words) == 3 and words[2] == "installed"


class DpkgAnalyzer(Analyzer):
    type: ClassVar[str] = "dpkg"
    version: ClassVar[int] = 2

    def required(self, path: str, mode: int) -> bool:
        if path == "var/lib/dpkg/status":
            return True
        if path.startswith("var/lib/dpkg/info/") and path.endswith(".list"):
            return "/" not in path[len("var/lib/dpkg/info/"):]
        if path.startswith("var/lib/dpkg/status.d/"):
            name = path[len("var/lib/dpkg/status.d/"):]
            # distroless writes NAME and sometimes NAME.md5sums: only the control stanzas
            return "/" not in name and not name.endswith(".md5sums")
        return False

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        text = read_text(inp.stream, _MAX, inp.path)
        result = AnalysisResult()
        if inp.path.endswith(".list"):  # one package's installed files, one absolute path a line
            result.system_files = [p.lstrip("/") for p in text.splitlines() if language_manifest(p)]
            return result
        seen_any = False
        for lineno, fields in paragraphs(text):
            seen_any = True
            name = fields.get("Package", "")
            version = fields.get("Version", "")
            if not name or not version or not _VALID_NAME.match(name):
                result.warnings.append(f"{inp.path}:{lineno}: dpkg stanza without a valid Package/Version, skipped")
                continue
            if not _installed(fields):
                continue
            arch = fields.get("Architecture", "")
            src_name, src_version = name, version
            if fields.get("Source"):
                m = _SOURCE.match(fields["Source"])
                if m:
                    src_name = m.group("name")
                    src_version = m.group("version") or version
                else:
                    result.warnings.append(f"{inp.path}:{lineno}: unparsable Source field {fields['Source']!r}")
            meta = {}
            if fields.get("Maintainer"):
                meta["maintainer"] = fields["Maintainer"]
            if fields.get("Installed-Size"):
                meta["installed_size_kb"] = fields["Installed-Size"]
            result.packages.append(Package(
                name=name, version=version, type="deb", purl=deb_purl(name, version, arch),
                locations=(inp.path,), arch=arch, source_name=src_name, source_version=src_version,
                analyzer=self.type, metadata=meta,
            ))
        if not seen_any and text.strip():
            raise AnalyzerError(f"{inp.path}: not a dpkg status file")
        return result
