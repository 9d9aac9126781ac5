"""Dependency lockfiles in source trees (``dir:`` targets): one analyzer class per format.

requirements.txt (pinned ``==`` only), poetry.lock, Pipfile.lock, uv.lock, package-lock.json (v1-v3),
yarn.lock (classic v1 and berry), pnpm-lock.yaml (v5-v9), go.mod, Cargo.lock, composer.lock, Gemfile.lock.
They describe what *would* be installed, so they are not used for images (installed metadata is read
there): :func:`containerguard.analyzer.registry.builtin_analyzers` adds them with ``lockfiles=True``.
Files under ``node_modules/`` or ``vendor/`` are other projects' lockfiles and are not required.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any, ClassVar

from containerguard import yamlsafe
from containerguard.analyzer._util import basename, pep503, read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.analyzer.golang import golang_purl
from containerguard.analyzer.npm import npm_purl
from containerguard.analyzer.php import composer_packages
from containerguard.analyzer.python import pypi_purl
from containerguard.analyzer.ruby import gem_purl
from containerguard.analyzer.rust import cargo_purl
from containerguard.errors import AnalyzerError
from containerguard.model import Package

_MAX = 64 * 1024 * 1024
_SKIP_DIRS = ("node_modules/", "vendor/", ".git/")


def _in_skipped_dir(path: str) -> bool:
    p = f"/{path}"
    return any(f"/{d}" in p for d in _SKIP_DIRS)


class _Lockfile(Analyzer):
    """Base for lockfile analyzers: a file name match and a parse into (name, version, extra) tuples."""

    filenames: ClassVar[tuple[str, ...]] = ()
    pkg_type: ClassVar[str] = ""

    def required(self, path: str, mode: int) -> bool:
        return basename(path) in self.filenames and not _in_skipped_dir(path)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        text = read_text(inp.stream, _MAX, inp.path)
        result = AnalysisResult()
        try:
            entries = list(self.parse(text, inp.path, result))
        except (ValueError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise AnalyzerError(f"{inp.path}: cannot parse {self.type}: {exc}") from exc
        seen: set[tuple[str, str]] = set()
        for name, version, meta in entries:
            if not name or not version:
                result.warnings.append(f"{inp.path}: entry without name/version skipped ({name!r})")
                continue
            if (name, version) in seen:
                continue
            seen.add((name, version))
            result.packages.append(Package(name=name, version=version, type=self.pkg_type,
                                           purl=self.purl(name, version), locations=(inp.path,),
                                           analyzer=self.type, metadata=meta))
        return result

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        raise NotImplementedError

    def purl(self, name: str, version: str) -> str:
        raise NotImplementedError


# --------------------------------------------------------------------------- Python


_REQ_LINE = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*)\s*(?:\[[^\]]*\])?\s*===?\s*(?P<version>[^\s;#,\\]+)")


class _PyLock(_Lockfile):
    pkg_type: ClassVar[str] = "pypi"

    def purl(self, name: str, version: str) -> str:
        return pypi_purl(name, version)


class RequirementsAnalyzer(_PyLock):
    type: ClassVar[str] = "pip-requirements"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        name = basename(path)
        return (name == "requirements.txt" or (name.startswith("requirements") and name.endswith(".txt"))) \
            and not _in_skipped_dir(path)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):
                continue
            m = _REQ_LINE.match(line)
            if m and "*" not in m.group("version"):
                yield pep503(m.group("name")), m.group("version"), {}


class PoetryLockAnalyzer(_PyLock):
    type: ClassVar[str] = "poetry"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("poetry.lock",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        for p in tomllib.loads(text).get("package", []):
            yield pep503(str(p.get("name", ""))), str(p.get("version", "")), \
                {"category": str(p["category"])} if p.get("category") else {}


class PipfileLockAnalyzer(_PyLock):
    type: ClassVar[str] = "pipenv"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("Pipfile.lock",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        doc = json.loads(text)
        for section in ("default", "develop"):
            for name, spec in (doc.get(section) or {}).items():
                version = spec.get("version", "") if isinstance(spec, dict) else ""
                if not version:  # git/path dependencies carry no version
                    continue
                yield pep503(name), version.lstrip("="), {"dev": "true"} if section == "develop" else {}


class UvLockAnalyzer(_PyLock):
    type: ClassVar[str] = "uv"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("uv.lock",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        for p in tomllib.loads(text).get("package", []):
            source = p.get("source") or {}
            if isinstance(source, dict) and ("editable" in source or "virtual" in source):
                continue  # the project itself / workspace members
            yield pep503(str(p.get("name", ""))), str(p.get("version", "")), {}


# --------------------------------------------------------------------------- Node


class _NodeLock(_Lockfile):
    pkg_type: ClassVar[str] = "npm"

    def purl(self, name: str, version: str) -> str:
        return npm_purl(name, version)


class PackageLockAnalyzer(_NodeLock):
    type: ClassVar[str] = "npm-lock"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("package-lock.json", "npm-shrinkwrap.json")

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        doc = json.loads(text)
        packages = doc.get("packages")
        if isinstance(packages, dict) and packages:  # lockfileVersion 2 and 3
            for key, entry in packages.items():
                if not key or not isinstance(entry, dict) or entry.get("link") or "node_modules/" not in key:
                    continue
                name = entry.get("name") or key.rsplit("node_modules/", 1)[-1]
                meta = {"dev": "true"} if entry.get("dev") else {}
                yield name, str(entry.get("version", "")), meta
            return
        yield from self._v1(doc.get("dependencies") or {}, 0)

    def _v1(self, deps: dict[str, Any], depth: int) -> Iterable[tuple[str, str, dict[str, str]]]:
        if depth > 200:
            raise ValueError("dependency tree nested too deeply")
        for name, entry in deps.items():
            if not isinstance(entry, dict):
                continue
            version = str(entry.get("version", ""))
            if version.startswith(("file:", "link:", "git")) or "://" in version:
                version = ""
            if version.startswith("npm:"):  # alias "npm:real-name@1.2.3"
                real, _, version = version[4:].rpartition("@")
                name = real or name
            if version:
                yield name, version, {"dev": "true"} if entry.get("dev") else {}
            yield from self._v1(entry.get("dependencies") or {}, depth + 1)


_YARN_V1_HEAD = re.compile(r'^"?(?P<spec>(?:@[^@/"]+/)?[^@"\s,]+)@')
_YARN_V1_VERSION = re.compile(r'^\s+version:?\s+"?(?P<v>[^"\s]+)"?')


class YarnLockAnalyzer(_NodeLock):
    type: ClassVar[str] = "yarn"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("yarn.lock",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        name = ""
        skip = False
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                head = line.rstrip(":").strip()
                skip = head.startswith("__metadata") or "@workspace:" in head or "@patch:" in head \
                    or "@link:" in head or "@file:" in head or "@portal:" in head
                m = _YARN_V1_HEAD.match(head)
                name = m.group("spec") if m else ""
                continue
            if skip or not name:
                continue
            vm = _YARN_V1_VERSION.match(line)
            if vm and line.startswith(("  version", "  version:")):
                yield name, vm.group("v"), {}
                name = ""


class PnpmLockAnalyzer(_NodeLock):
    type: ClassVar[str] = "pnpm"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("pnpm-lock.yaml",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        doc = yamlsafe.load(text, path, error=AnalyzerError)
        if not isinstance(doc, dict):
            raise ValueError("not a mapping")
        v5 = str(doc.get("lockfileVersion", "")).startswith("5")
        for key, entry in (doc.get("packages") or {}).items():
            entry = entry if isinstance(entry, dict) else {}
            name, version = self.split_key(str(key), v5)
            name = entry.get("name") or name
            version = str(entry.get("version") or version)
            if not name or not version or version.startswith(("link:", "file:")):
                continue
            yield name, version, {"dev": "true"} if entry.get("dev") else {}

    @staticmethod
    def split_key(key: str, v5: bool = False) -> tuple[str, str]:
        """``/lodash/4.17.21_peer@1.0`` (v5), ``/lodash@4.17.21(peer)`` (v6), ``lodash@4.17.21`` (v9), scoped too."""
        k = key.lstrip("/")
        k = k.split("(", 1)[0]
        if not v5 and "@" in k[1:]:  # v6+: name@version
            at = k.rfind("@")
            name, version = k[:at], k[at + 1:]
        else:  # v5: name/version[_peer]
            name, _, version = k.rpartition("/")
            version = version.split("_", 1)[0]
        return name, version


# --------------------------------------------------------------------------- Go, Rust, PHP, Ruby


class GoModAnalyzer(_Lockfile):
    type: ClassVar[str] = "gomod"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("go.mod",)
    pkg_type: ClassVar[str] = "golang"

    def purl(self, name: str, version: str) -> str:
        return golang_purl(name, version)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        requires: dict[str, tuple[str, dict[str, str]]] = {}
        replaces: dict[str, tuple[str, str]] = {}
        block = ""
        for raw in text.splitlines():
            line = raw.split("//", 1)[0].strip()
            indirect = "// indirect" in raw
            if not line:
                continue
            if block:
                if line == ")":
                    block = ""
                    continue
                self._directive(block, line, indirect, requires, replaces)
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word in ("require", "replace") and rest == "(":
                block = word
            elif word in ("require", "replace"):
                self._directive(word, rest, indirect, requires, replaces)
        for mod, (version, meta) in requires.items():
            if mod in replaces:
                new_path, new_version = replaces[mod]
                if new_version:
                    yield new_path, new_version, {**meta, "replaces": f"{mod}@{version}"}
                    continue
                meta = {**meta, "replaced_by": new_path}
            yield mod, version, meta

    @staticmethod
    def _directive(kind: str, line: str, indirect: bool, requires: dict[str, tuple[str, dict[str, str]]],
                   replaces: dict[str, tuple[str, str]]) -> None:
        parts = line.replace('"', "").split()
        if kind == "require" and len(parts) >= 2:
            requires[parts[0]] = (parts[1], {"indirect": "true"} if indirect else {})
        elif kind == "replace" and "=>" in parts:
            i = parts.index("=>")
            old = parts[0]
            new = parts[i + 1:]
            if new:
                replaces[old] = (new[0], new[1] if len(new) > 1 else "")


class CargoLockAnalyzer(_Lockfile):
    type: ClassVar[str] = "cargo"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("Cargo.lock",)
    pkg_type: ClassVar[str] = "cargo"

    def purl(self, name: str, version: str) -> str:
        return cargo_purl(name, version)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        for p in tomllib.loads(text).get("package", []):
            yield str(p.get("name", "")), str(p.get("version", "")), \
                {"source": str(p["source"])} if p.get("source") else {}


class ComposerLockAnalyzer(Analyzer):
    type: ClassVar[str] = "composer"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return basename(path) == "composer.lock" and not _in_skipped_dir(path)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        try:
            doc = json.loads(read_text(inp.stream, _MAX, inp.path))
        except ValueError as exc:
            raise AnalyzerError(f"{inp.path}: invalid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise AnalyzerError(f"{inp.path}: not a composer.lock")
        result = AnalysisResult()
        prod_v, dev_v = doc.get("packages"), doc.get("packages-dev")
        prod: list[Any] = prod_v if isinstance(prod_v, list) else []
        dev: list[Any] = dev_v if isinstance(dev_v, list) else []
        dev_names = frozenset(str(p.get("name")) for p in dev if isinstance(p, dict))
        composer_packages([*prod, *dev], inp.path, self.type, result, dev_names)
        return result


_GEM_SPEC = re.compile(r"^    (?P<name>[^\s(]+) \((?P<version>[^)]+)\)$")


class GemfileLockAnalyzer(_Lockfile):
    type: ClassVar[str] = "bundler"
    version: ClassVar[int] = 1
    filenames: ClassVar[tuple[str, ...]] = ("Gemfile.lock", "gems.locked")
    pkg_type: ClassVar[str] = "gem"

    def purl(self, name: str, version: str) -> str:
        return gem_purl(name, version)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        section = ""
        in_specs = False
        for line in text.splitlines():
            if line and not line[0].isspace():
                section, in_specs = line.strip(), False
                continue
            if line.strip() == "specs:":
                in_specs = True
                continue
            if section in ("GEM", "GIT", "PATH") and in_specs:
                m = _GEM_SPEC.match(line)
                if m:
                    version = m.group("version").split("-", 1)[0] if "-" in m.group("version") and \
                        m.group("version").split("-", 1)[1] in _PLATFORMS_SUFFIX_HINT else m.group("version")
                    yield m.group("name"), version, {"source": section.lower()}


#: platform suffixes Bundler appends to versions of native gems ("nokogiri (1.15.4-x86_64-linux)")
_PLATFORMS_SUFFIX_HINT = frozenset({
    "x86_64-linux", "aarch64-linux", "x86_64-darwin", "arm64-darwin", "java", "x64-mingw32", "x64-mingw-ucrt",
    "x86-mingw32", "x86_64-linux-musl", "aarch64-linux-musl", "arm-linux", "x86-linux", "universal-darwin",
    "x86_64-linux-gnu", "aarch64-linux-gnu",
})


def lockfile_analyzer_types() -> frozenset[str]:
    return frozenset(a.type for a in lockfile_analyzers())


def lockfile_analyzers() -> list[Analyzer]:
    return [RequirementsAnalyzer(), PoetryLockAnalyzer(), PipfileLockAnalyzer(), UvLockAnalyzer(),
            PackageLockAnalyzer(), YarnLockAnalyzer(), PnpmLockAnalyzer(), GoModAnalyzer(), CargoLockAnalyzer(),
            ComposerLockAnalyzer(), GemfileLockAnalyzer()]
