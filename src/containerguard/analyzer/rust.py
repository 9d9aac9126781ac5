"""Rust crates from binaries built with cargo-auditable: the ``.dep-v0`` ELF section holds
zlib-compressed JSON ``{"packages": [{"name", "version", "source", "kind", "root"?, "dependencies"?}]}``.
"""

from __future__ import annotations

import json
import zlib
from typing import ClassVar

from containerguard.analyzer._elf import Elf, ElfBinaryAnalyzer, ElfReadErrors
from containerguard.analyzer.base import AnalysisResult
from containerguard.model import Package
from containerguard.purl import make_purl

_MAX_COMPRESSED = 16 * 1024 * 1024
_MAX_JSON = 64 * 1024 * 1024


def cargo_purl(name: str, version: str) -> str:
    return make_purl("cargo", name, version)


def decode_dep_v0(compressed: bytes) -> list[dict[str, object]]:
    d = zlib.decompressobj()
    raw = d.decompress(compressed, _MAX_JSON)
    if d.unconsumed_tail:
        raise ValueError(f"dependency list expands beyond {_MAX_JSON} bytes")
    doc = json.loads(raw)
    pkgs = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(pkgs, list):
        raise ValueError("no packages list")
    return [p for p in pkgs if isinstance(p, dict)]


class RustBinaryAnalyzer(ElfBinaryAnalyzer):
    type: ClassVar[str] = "rustbinary"
    version: ClassVar[int] = 1
    what: ClassVar[str] = "cargo-auditable data"
    read_errors = (*ElfReadErrors, zlib.error)

    def analyze_elf(self, elf: Elf, path: str) -> AnalysisResult:
        result = AnalysisResult()
        sec = elf.sections.get(".dep-v0")
        if sec is None:
            return result
        if sec.size > _MAX_COMPRESSED:
            result.warnings.append(f"{path}: .dep-v0 section too large, skipped")
            return result
        entries = decode_dep_v0(elf.read_at(sec.offset, sec.size))
        for entry in entries:
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                result.warnings.append(f"{path}: .dep-v0 entry without name/version")
                continue
            meta = {"source": str(entry.get("source", ""))}
            if entry.get("kind"):
                meta["kind"] = str(entry["kind"])
            if entry.get("root"):
                meta["root"] = "true"
            result.packages.append(Package(name=name, version=version, type="cargo",
                                           purl=cargo_purl(name, version), locations=(path,),
                                           analyzer=self.type, metadata=meta))
        return result
