"""Java archives (jar, war, ear, par, and the same nested inside one another).

Every ``META-INF/maven/<group>/<artifact>/pom.properties`` is a package (a shaded or fat jar lists each
library it bundles); an archive with none falls back to ``META-INF/MANIFEST.MF`` (Implementation-Title /
Implementation-Version, Bundle-SymbolicName / Bundle-Version, Implementation-Vendor-Id as the group).
Nested archives are read from memory up to a depth and size budget; bigger ones give a counted warning.
Packages are named ``group:artifact`` (the Maven coordinate, as vulnerability databases name them);
the location is the outer file, and ``metadata["archive_path"]`` the path inside it.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import IO, ClassVar

from containerguard.analyzer._util import open_zip
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.purl import make_purl

ARCHIVE_EXTS = (".jar", ".war", ".ear", ".par", ".jpi", ".hpi")  # not .rar: mostly RAR archives, not zips
MAX_DEPTH = 4
#: a nested archive is held in memory while read: depth x this bounds the peak (4 x 32 MiB)
MAX_NESTED_SIZE = 32 * 1024 * 1024
#: all nested archives of one file together (bounds the time a hostile archive can take)
MAX_TOTAL_NESTED = 512 * 1024 * 1024
MAX_ENTRY_TEXT = 1024 * 1024
_FILENAME = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.\-+]*)$")


def maven_purl(group: str, artifact: str, version: str) -> str:
    return make_purl("maven", artifact, version, group or None)


def parse_properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def parse_manifest(text: str) -> dict[str, str]:
    """Main section of a MANIFEST.MF (72-byte continuation lines joined)."""
    parts: dict[str, list[str]] = {}  # joined once: appending to a string is quadratic in the lines
    last: list[str] | None = None
    for line in text.splitlines():
        if not line:
            break  # end of the main section
        if line.startswith(" ") and last is not None:
            last.append(line[1:])
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = parts[key.strip()] = [value.strip()]
    return {k: "".join(v) for k, v in parts.items()}


class _Budget:
    def __init__(self) -> None:
        self.nested_bytes = 0


class JavaArchiveAnalyzer(Analyzer):
    type: ClassVar[str] = "jar"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path.lower().endswith(ARCHIVE_EXTS)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        result = AnalysisResult()
        try:
            self._archive(inp.stream, inp.path, "", 0, result, _Budget())
        except zipfile.BadZipFile as exc:
            raise AnalyzerError(f"{inp.path}: not a readable zip archive: {exc}") from exc
        return result

    def _archive(self, stream: IO[bytes], path: str, inner: str, depth: int, result: AnalysisResult,
                 budget: _Budget) -> None:
        where = f"{path}!/{inner}" if inner else path
        with open_zip(stream) as zf:
            infos = zf.infolist()
            found = 0
            manifest: dict[str, str] = {}
            for info in infos:
                name = info.filename
                try:
                    if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                        props = parse_properties(self._text(zf, info))
                        g, a, v = props.get("groupId", ""), props.get("artifactId", ""), props.get("version", "")
                        if a and v:
                            result.packages.append(self._pkg(g, a, v, path, inner, "pom.properties"))
                            found += 1
                        else:
                            result.warnings.append(f"{where}: {name} lacks artifactId/version")
                    elif name == "META-INF/MANIFEST.MF":
                        manifest = parse_manifest(self._text(zf, info))
                    elif name.lower().endswith(ARCHIVE_EXTS) and not info.is_dir():
                        self._nested(zf, info, path, f"{inner}!/{name}" if inner else name, depth, result, budget)
                except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
                    result.warnings.append(f"{where}: entry {name}: {exc}")
            if not found:
                self._from_manifest(manifest, path, inner, result)

    def _text(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
        if info.file_size > MAX_ENTRY_TEXT:
            raise ValueError(f"{info.filename} larger than {MAX_ENTRY_TEXT} bytes")
        with zf.open(info) as fh:
            return fh.read(MAX_ENTRY_TEXT + 1)[:MAX_ENTRY_TEXT].decode("utf-8", errors="replace")

    def _nested(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, inner: str, depth: int,
                result: AnalysisResult, budget: _Budget) -> None:
        if depth + 1 > MAX_DEPTH:
            result.warnings.append(f"{path}!/{inner}: nested deeper than {MAX_DEPTH} archives, skipped")
            return
        if info.file_size > MAX_NESTED_SIZE or budget.nested_bytes + info.file_size > MAX_TOTAL_NESTED:
            result.warnings.append(f"{path}!/{inner}: nested archive too large ({info.file_size} bytes), skipped")
            return
        with zf.open(info) as fh:
            data = fh.read(MAX_NESTED_SIZE + 1)
        if len(data) > MAX_NESTED_SIZE:  # the header lied about its size
            result.warnings.append(f"{path}!/{inner}: nested archive too large, skipped")
            return
        budget.nested_bytes += len(data)
        try:
            self._archive(io.BytesIO(data), path, inner, depth + 1, result, budget)
        except zipfile.BadZipFile as exc:
            result.warnings.append(f"{path}!/{inner}: not a readable zip archive: {exc}")

    def _from_manifest(self, mf: dict[str, str], path: str, inner: str, result: AnalysisResult) -> None:
        artifact = mf.get("Implementation-Title") or mf.get("Bundle-SymbolicName", "").split(";")[0].strip()
        version = mf.get("Implementation-Version") or mf.get("Bundle-Version", "")
        group = mf.get("Implementation-Vendor-Id", "")
        if (not artifact or not version) and (m := _FILENAME.match(self._stem(inner or path))):
            artifact = artifact or m.group("name")
            version = version or m.group("version")
        if artifact and version:
            result.packages.append(self._pkg(group, artifact.replace(" ", "-"), version, path, inner,
                                             "MANIFEST.MF"))
        else:
            result.warnings.append(f"{path}{'!/' + inner if inner else ''}: no Maven coordinates found")

    @staticmethod
    def _stem(p: str) -> str:
        name = p.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0]

    def _pkg(self, group: str, artifact: str, version: str, path: str, inner: str, source: str) -> Package:
        name = f"{group}:{artifact}" if group else artifact
        meta = {"group_id": group, "artifact_id": artifact, "found_in": source}
        if inner:
            meta["archive_path"] = inner
        return Package(name=name, version=version, type="maven", purl=maven_purl(group, artifact, version),
                       locations=(path,), analyzer=self.type, metadata={k: v for k, v in meta.items() if v})
