"""Dependency lockfiles in source trees (``dir:`` targets): one analyzer class per format.

requirements.txt (pinned ``==`` only), poetry.lock, Pipfile.lock, uv.lock, package-lock.json (v1-v3),
yarn.lock (classic v1 and berry), pnpm-lock.yaml (v5-v9), go.mod, Cargo.lock, composer.lock, Gemfile.lock.
They describe what *would* be installed, so they are not used for images (installed metadata is read
there): :func:`containerguard.analyzer.plugins.builtin_analyzers` adds them with ``lockfiles=True``.
Files under ``node_modules/`` or ``vendor/`` are other projects' lockfiles and are not required.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from containerguard.analyzer._util import basename, decode_text, dirname, pep503, read_text
from containerguard.analyzer.base import UNREADABLE, AnalysisResult, Analyzer, AnalyzerInput
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


def _malformed(text: str) -> bool:
    """A lockfile name or version no ecosystem writes: whitespace inside, or a list or table turned into
    text (``[]``, ``{'a': 1}``) by a parser that expected a string."""
    return any(c.isspace() for c in text) or text[0] in "[{"


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
            raise AnalyzerError(f"{UNREADABLE}: {exc}") from exc
        seen: set[tuple[str, str]] = set()
        for name, version, meta in entries:
            if not name or not version:
                result.warnings.append(f"{inp.path}: entry without name/version skipped ({name!r})")
                continue
            if _malformed(name) or _malformed(version):  # a list, a table or prose where a string belongs
                result.warnings.append(f"{inp.path}: entry with a malformed name or version skipped "
                                       f"({name[:60]!r} {version[:40]!r})")
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


class _PyLock(_Lockfile):
    pkg_type: ClassVar[str] = "pypi"

    def purl(self, name: str, version: str) -> str:
        return pypi_purl(name, version)


_REQ_INCLUDE = re.compile(r"^(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(?P<file>\S+)")
_REQ_COMMENT = re.compile(r"(^|\s+)#.*$")
_MAX_INCLUDES = 256


def requirement_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, logical line without comment) as pip's ``join_lines`` and ``ignore_comments``
    read a requirements file: a ``\\`` at the end of a line joins the next one, except on a line that is
    a comment (pip ignores that ``\\``); a comment starts at ``#`` at the line start or after whitespace."""
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        comment = _REQ_COMMENT.match(raw) is not None
        if raw.endswith("\\") and not comment:
            if not buf:
                start = n
            buf.append(raw.strip("\\"))
            continue
        if buf:
            buf.append(" " + raw if comment else raw)
            logical, buf = "".join(buf), []
        else:
            start, logical = n, raw
        yield start, _REQ_COMMENT.sub("", logical).strip()
    if buf:
        yield start, _REQ_COMMENT.sub("", "".join(buf)).strip()


def _yaml_load(text: str, path: str) -> Any:
    from containerguard import yamlsafe  # PyYAML: imported on first use (a warm scan runs no analyzer)

    return yamlsafe.load(text, path, error=AnalyzerError)


class RequirementsAnalyzer(_PyLock):
    """pip requirements files: pinned ``==``/``===`` requirements, ``-r``/``-c`` includes followed inside the
    scanned tree (relative to the including file, cycles and escapes refused with a warning naming the
    file and line), continuation lines, UTF-8/UTF-16/UTF-32 with a byte-order mark."""

    type: ClassVar[str] = "pip-requirements"
    version: ClassVar[int] = 2

    def required(self, path: str, mode: int) -> bool:
        name = basename(path)
        return (name == "requirements.txt" or (name.startswith("requirements") and name.endswith(".txt"))) \
            and not _in_skipped_dir(path)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        raise NotImplementedError  # analyze() below follows includes

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        walk = _RequirementsWalk(inp, AnalysisResult())
        walk.visit(inp.path, read_text(inp.stream, _MAX, inp.path), False)
        for name, (version, path) in walk.resolved().items():
            walk.result.packages.append(Package(name=name, version=version, type=self.pkg_type,
                                                purl=self.purl(name, version), locations=(path,),
                                                analyzer=self.type, metadata={}))
        return walk.result

    @staticmethod
    def _requirement(path: str, lineno: int, line: str, result: AnalysisResult) -> tuple[str, str] | None:
        """(normalised name, pinned version or "") of one requirement line; None for URLs, local paths and
        lines pip would refuse (those with a warning naming file and line)."""
        from packaging.requirements import InvalidRequirement, Requirement  # on first use: cheap start-up

        spec = line.split(" --", 1)[0].strip()  # per-requirement options: --hash=..., --config-settings ...
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            if not spec.startswith((".", "/")) and "://" not in spec:  # local paths and URLs are not pinned
                result.warnings.append(f"{path}:{lineno}: not a requirement pip understands; skipped")
            return None
        if req.url:
            return None
        pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        return pep503(req.name), pins[0].version if len(pins) == 1 else ""


class _RequirementsWalk:
    """One requirements file and the files it includes: pins, unpinned names and constraints, in the order
    pip reads them (the first pin of a name wins)."""

    def __init__(self, inp: AnalyzerInput, result: AnalysisResult) -> None:
        self.inp, self.result = inp, result
        self.pinned: dict[str, tuple[str, str]] = {}  # name -> (version, file)
        self.loose: dict[str, str] = {}  # name -> file, for requirements without a pin
        self.constraints: dict[str, str] = {}  # name -> version pinned by a -c file
        self.visiting: list[str] = []
        self.includes = 0

    def visit(self, path: str, text: str, constraint: bool) -> None:
        self.visiting.append(path)
        for lineno, line in requirement_lines(text):
            if not line:
                continue
            inc = _REQ_INCLUDE.match(line)
            if inc:
                self._include(path, lineno, inc.group("file"), constraint or line.startswith(("-c", "--constraint")))
            elif not line.startswith("-"):  # other pip options (--index-url, -e ...) are skipped
                self._requirement(path, lineno, line, constraint)
        self.visiting.pop()

    def _include(self, path: str, lineno: int, file: str, constraint: bool) -> None:
        target = posixpath.normpath(posixpath.join(dirname(path), file))
        where = f"{path}:{lineno}"
        warn = self.result.warnings.append
        if target in self.visiting:
            warn(f"{where}: include cycle through {target}; not followed again")
        elif self.inp.read_sibling is None:
            warn(f"{where}: include of {target} not followed (file stands alone)")
        elif self.includes >= _MAX_INCLUDES:
            warn(f"{where}: more than {_MAX_INCLUDES} includes; {target} not read")
        else:
            self.includes += 1
            try:
                data = self.inp.read_sibling(target)
            except AnalyzerError as exc:
                warn(f"{where}: include not read: {exc}")
            else:
                self.visit(target, decode_text(data), constraint)

    def _requirement(self, path: str, lineno: int, line: str, constraint: bool) -> None:
        req = RequirementsAnalyzer._requirement(path, lineno, line, self.result)
        if req is None:
            return
        name, version = req
        if constraint:
            if version:
                self.constraints.setdefault(name, version)
        elif version:
            self.pinned.setdefault(name, (version, path))
        else:
            self.loose.setdefault(name, path)

    def resolved(self) -> dict[str, tuple[str, str]]:
        """name -> (version, file): the pins, plus unpinned requirements a constraint decides."""
        pinned = dict(self.pinned)
        for name, path in self.loose.items():
            if name not in pinned and name in self.constraints:
                pinned[name] = (self.constraints[name], path)
        return pinned


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


_GIT_COMMIT = re.compile(r"^(?P<repo>(?:git\+|git:|github:|gitlab:|bitbucket:)[^#]*)#(?:commit=)?(?P<sha>[0-9a-f]{7,40})$")
_TARBALL_VERSION = re.compile(r"/-/(?:[^/]+)-(?P<v>\d+\.\d+\.\d+[^/]*?)\.tgz$")


def _git_meta(ref: str) -> dict[str, str]:
    """``{"source": repo, "commit": sha}`` for a git reference (``git+ssh://...#sha``), else ``{}``."""
    m = _GIT_COMMIT.match(ref)
    return {"source": m.group("repo"), "commit": m.group("sha")} if m else {}


def _tarball_version(url: str) -> str:
    """The version in a registry tarball URL (``.../debug/-/debug-2.6.8.tgz``), "" when there is none."""
    m = _TARBALL_VERSION.search(url.split("#", 1)[0].split("?", 1)[0])
    return m.group("v") if m else ""


class PackageLockAnalyzer(_NodeLock):
    """package-lock.json / npm-shrinkwrap.json v1-v3: aliases under the real name (the alias kept as
    ``alias``), git dependencies with their commit, tarball URLs with their version, local links skipped."""

    type: ClassVar[str] = "npm-lock"
    version: ClassVar[int] = 2
    filenames: ClassVar[tuple[str, ...]] = ("package-lock.json", "npm-shrinkwrap.json")

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        doc = json.loads(text)
        if not isinstance(doc, dict) or not ("lockfileVersion" in doc or "dependencies" in doc):
            raise ValueError("not an npm lockfile (no lockfileVersion)")
        packages = doc.get("packages")
        if isinstance(packages, dict) and packages:  # lockfileVersion 2 and 3
            for key, entry in packages.items():
                if not key or not isinstance(entry, dict) or entry.get("link") or "node_modules/" not in key:
                    continue
                installed_as = key.rsplit("node_modules/", 1)[-1]
                name = str(entry.get("name") or installed_as)
                meta = {"dev": "true"} if entry.get("dev") else {}
                if name != installed_as:
                    meta["alias"] = installed_as
                resolved = str(entry.get("resolved", ""))
                meta.update(_git_meta(resolved))
                version = str(entry.get("version", "")) or meta.get("commit", "") or _tarball_version(resolved)
                if resolved.startswith("file:") and not version:
                    continue
                yield name, version, meta
            return
        yield from self._v1(doc.get("dependencies") or {}, 0)

    def _v1(self, deps: dict[str, Any], depth: int) -> Iterable[tuple[str, str, dict[str, str]]]:
        if depth > 200:
            raise ValueError("dependency tree nested too deeply")
        for name, entry in deps.items():
            if not isinstance(entry, dict):
                continue
            version = str(entry.get("version", ""))
            meta: dict[str, str] = {"dev": "true"} if entry.get("dev") else {}
            if version.startswith("npm:"):  # alias "npm:real-name@1.2.3"
                real, _, version = version[4:].rpartition("@")
                if real and real != name:
                    meta["alias"] = name
                    name = real
            elif git := _git_meta(version):
                meta.update(git)
                version = git["commit"]  # v1 records no package version for a git dependency
            elif "://" in version:
                version = _tarball_version(version)
            elif version.startswith(("file:", "link:")):
                version = ""  # a local directory, not a published package
            if version:
                yield name, version, meta
            yield from self._v1(entry.get("dependencies") or {}, depth + 1)


def _npm_spec_name(spec: str) -> tuple[str, str]:
    """``name@range`` -> (name, range), scoped names too (``@scope/name@range``)."""
    at = spec.find("@", 1)
    return (spec, "") if at < 0 else (spec[:at], spec[at + 1:])


_GIT_HOSTS = ("github.com/", "gitlab.com/", "bitbucket.org/", "/github.com/", "/gitlab.com/", "/bitbucket.org/")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_YARN_LOCAL = ("workspace:", "link:", "file:", "portal:", "exec:")


class YarnLockAnalyzer(_NodeLock):
    """yarn.lock, classic v1 (its own syntax) and berry (YAML): quoted keys and property names, several
    specs per entry, ``npm:`` aliases under the real package name (the alias kept as ``alias``), git
    dependencies with their commit, workspace/link/file/portal/patch entries skipped."""

    type: ClassVar[str] = "yarn"
    version: ClassVar[int] = 2
    filenames: ClassVar[tuple[str, ...]] = ("yarn.lock",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        entries = self._berry(text, path) if "\n__metadata:" in f"\n{text}" else self._classic(text)
        found = False
        for specs, props in entries:
            found = found or "version" in props
            yield from self._entry(specs, props)
        if not found and any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines()):
            raise ValueError("no yarn.lock entry found")

    @staticmethod
    def _berry(text: str, path: str) -> Iterable[tuple[list[str], dict[str, str]]]:
        doc = _yaml_load(text, path)
        if not isinstance(doc, dict):
            raise ValueError("not a mapping")
        for key, entry in doc.items():
            if key == "__metadata" or not isinstance(entry, dict):
                continue
            yield [s.strip() for s in str(key).split(",")], {str(k): str(v) for k, v in entry.items()
                                                             if isinstance(v, (str, int, float))}

    @staticmethod
    def _classic(text: str) -> Iterable[tuple[list[str], dict[str, str]]]:
        specs: list[str] = []
        props: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                if specs:
                    yield specs, props
                specs = [_unquote(s) for s in line.rstrip().rstrip(":").split(",")]
                props = {}
            elif specs and line.startswith("  ") and not line.startswith("   "):
                key, _, value = line.strip().partition(" ")
                props[_unquote(key.rstrip(":"))] = _unquote(value.strip())
        if specs:
            yield specs, props

    @staticmethod
    def _entry(specs: list[str], props: dict[str, str]) -> Iterable[tuple[str, str, dict[str, str]]]:
        alias, rng = _npm_spec_name(specs[0])
        resolution = props.get("resolution", "")
        if any(r.startswith(_YARN_LOCAL) or "@patch:" in s for s in specs for r in (_npm_spec_name(s)[1],)) \
                or "@workspace:" in resolution:
            return
        version = props.get("version", "")
        meta: dict[str, str] = {}
        name = alias
        if resolution:  # berry: "ms@npm:0.7.1" names the real package
            name = _npm_spec_name(resolution)[0]
        elif rng.startswith("npm:"):  # classic alias: old-ms@npm:ms@0.7.1
            real = _npm_spec_name(rng[4:])[0]
            name = real if "@" in rng[5:] else alias
        if name != alias:
            meta["alias"] = alias
        git = _git_meta(props.get("resolved", "")) or _git_meta(_npm_spec_name(resolution)[1] if resolution else "")
        meta.update(git)
        if not version or version == "0.0.0-use.local":
            return
        yield name, version, meta


def _unquote(s: str) -> str:
    s = s.strip()
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


class PnpmLockAnalyzer(_NodeLock):
    """pnpm-lock.yaml, lockfile versions 5.x to 9: keys ``/name/1.0.0_peer`` (5), ``/name@1.0.0(peer)`` (6),
    ``name@1.0.0`` (9), scoped, with a registry host in front, tarball URLs, git and file dependencies.
    A key that names no package (a v5 git key) takes the name its importers use; local ``file:``/``link:``
    packages are skipped, never given a made-up name."""

    type: ClassVar[str] = "pnpm"
    version: ClassVar[int] = 2
    filenames: ClassVar[tuple[str, ...]] = ("pnpm-lock.yaml",)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        doc = _yaml_load(text, path)
        if not isinstance(doc, dict) or "lockfileVersion" not in doc:
            raise ValueError("not a pnpm lockfile (no lockfileVersion)")
        v5 = str(doc.get("lockfileVersion", "")).startswith("5")
        names = self._dep_path_names(doc)
        for key, entry in (doc.get("packages") or {}).items():
            entry = entry if isinstance(entry, dict) else {}
            key = str(key)
            raw_res = entry.get("resolution")
            res: dict[str, Any] = raw_res if isinstance(raw_res, dict) else {}
            meta: dict[str, str] = {"dev": "true"} if entry.get("dev") else {}
            if res.get("type") == "directory" or key.startswith(("file:", "link:")) or "@file:" in key \
                    or "@link:" in key:
                continue
            if res.get("type") == "git" or res.get("commit"):
                meta.update({"source": str(res.get("repo", "")), "commit": str(res.get("commit", ""))})
            elif key.startswith(_GIT_HOSTS) and (sha := key.rsplit("/", 1)[-1]) and _SHA.match(sha):
                meta.update({"source": key.rsplit("/", 1)[0], "commit": sha})  # github.com/user/repo/<sha>
            name, version = self.split_key(key, v5)
            if meta.get("commit") or "://" in key or not version:
                named = not v5 and "@" in key.lstrip("/")[1:].split("/", 1)[-1] and "://" not in name
                name = str(entry.get("name") or names.get(key) or (name if named else ""))
                version = str(entry.get("version") or "") or meta.get("commit", "") \
                    or _tarball_version(str(res.get("tarball", "")))
            else:
                name = str(entry.get("name") or name)
                version = str(entry.get("version") or version)
            if not name:
                result.warnings.append(f"{path}: {key}: no package name recorded; skipped")
                continue
            yield name, version, meta

    @staticmethod
    def _dep_path_names(doc: dict[str, Any]) -> dict[str, str]:
        """dependency path -> the name importers and packages give it (for keys that carry no name)."""
        out: dict[str, str] = {}
        groups: list[Any] = [doc]
        importers = doc.get("importers")
        if isinstance(importers, dict):
            groups.extend(v for v in importers.values() if isinstance(v, dict))
        packages = doc.get("packages")
        if isinstance(packages, dict):
            groups.extend(v for v in packages.values() if isinstance(v, dict))
        for g in groups:
            for section in ("dependencies", "devDependencies", "optionalDependencies"):
                deps = g.get(section)
                if not isinstance(deps, dict):
                    continue
                for alias, ref in deps.items():
                    ref = ref.get("version") if isinstance(ref, dict) else ref
                    if isinstance(ref, str) and "/" in ref:
                        out.setdefault(ref, str(alias))
                        out.setdefault(f"/{ref}", str(alias))
                        out.setdefault(f"{alias}@{ref}", str(alias))
        return out

    @staticmethod
    def split_key(key: str, v5: bool = False) -> tuple[str, str]:
        """``/lodash/4.17.21_peer@1.0`` (v5), ``/lodash@4.17.21(peer)`` (v6), ``lodash@4.17.21`` (v9), scoped,
        ``registry.example.com/lodash/4.17.21`` (a registry host in front)."""
        k = key.split("(", 1)[0]
        if not k.startswith("/") and not k.startswith("@") and "/" in k.split("@", 1)[0] \
                and "." in k.split("/", 1)[0]:
            k = "/" + k.split("/", 1)[1]  # registry.example.com/name/1.0.0 -> /name/1.0.0
        k = k.lstrip("/")
        if not v5 and "@" in k[1:]:  # v6+: name@version
            at = k.find("@", 1)
            return k[:at], k[at + 1:]
        name, _, version = k.rpartition("/")  # v5: name/version[_peer]
        return name, version.split("_", 1)[0]


# --------------------------------------------------------------------------- Go, Rust, PHP, Ruby


class GoModAnalyzer(_Lockfile):
    """go.mod ``require`` lines with ``replace`` applied as the go command does: ``old v1.2.3 => new v1.4.5``
    only when ``old`` is required at v1.2.3, ``old => ...`` for every version; a module replaced by a local
    directory is not a published module any more: it is left out with a warning naming it."""

    type: ClassVar[str] = "gomod"
    version: ClassVar[int] = 2
    filenames: ClassVar[tuple[str, ...]] = ("go.mod",)
    pkg_type: ClassVar[str] = "golang"

    def purl(self, name: str, version: str) -> str:
        return golang_purl(name, version)

    def parse(self, text: str, path: str, result: AnalysisResult) -> Iterable[tuple[str, str, dict[str, str]]]:
        requires: dict[str, tuple[str, dict[str, str]]] = {}
        #: (module, version or "" for every version) -> (new path, new version or "" for a directory)
        replaces: dict[tuple[str, str], tuple[str, str]] = {}
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
                self._directive(block, line.split(), indirect, requires, replaces)
                continue
            word, *rest = line.split()
            if word in ("require", "replace") and rest == ["("]:
                block = word
            elif word in ("require", "replace"):
                self._directive(word, rest, indirect, requires, replaces)
        for mod, (version, meta) in requires.items():
            rep = replaces.get((mod, version)) or replaces.get((mod, ""))
            if rep is None:
                yield mod, version, meta
            elif rep[1]:
                yield rep[0], rep[1], {**meta, "replaces": f"{mod}@{version}"}
            else:
                result.warnings.append(f"{path}: {mod}@{version} is replaced by the local directory {rep[0]}; "
                                       "not reported as a published module")

    @staticmethod
    def _directive(kind: str, parts: list[str], indirect: bool, requires: dict[str, tuple[str, dict[str, str]]],
                   replaces: dict[tuple[str, str], tuple[str, str]]) -> None:
        parts = [p.strip('"`') for p in parts]
        if kind == "require" and len(parts) >= 2:
            requires[parts[0]] = (parts[1], {"indirect": "true"} if indirect else {})
        elif kind == "replace" and "=>" in parts:
            i = parts.index("=>")
            old, new = parts[:i], parts[i + 1:]
            if old and new:
                local = new[0].startswith(("./", "../", "/")) or len(new) == 1
                replaces[(old[0], old[1] if len(old) > 1 else "")] = (new[0], "" if local else new[1])


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
