"""Configuration scanning entry points: find Dockerfiles and Kubernetes manifests under paths and check them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from containerguard.errors import MisconfigError, UsageError
from containerguard.misconfig.dockerfile import scan_dockerfile
from containerguard.misconfig.dockerfile_parser import split_lines
from containerguard.model import Finding

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", "vendor"}
_DOCKERFILE_NAME = re.compile(r"^(?:.*[._-])?(?:Docker|Container)file(?:[._-].*)?$", re.I)
_NOT_DOCKERFILE = (".md", ".txt", ".rst", ".json", ".yaml", ".yml", ".sh", ".py", ".go", ".lock", ".orig", ".bak")
_YAML = (".yaml", ".yml")
_FIRST_INSTRUCTION = re.compile(r"^\s*(FROM|ARG)\s", re.I | re.M)
_JSON_API = re.compile(r'"apiVersion"\s*:\s*"')
_YAML_API = re.compile(r'(?:^|[{,\s])["\']?apiVersion["\']?\s*:')
_YAML_KIND = re.compile(r'(?:^|[{,\s])["\']?kind["\']?\s*:')


@dataclass(slots=True)
class ConfigResult:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dockerfiles: int = 0
    manifests: int = 0  # YAML files read
    objects: int = 0  # Kubernetes objects checked
    skipped: int = 0


def kind_of(path: Path, explicit: bool = False) -> str | None:
    """'dockerfile', 'kubernetes' or None. Explicitly named files are sniffed when the name says nothing."""
    name = path.name
    if _DOCKERFILE_NAME.match(name) and not name.lower().endswith(_NOT_DOCKERFILE):
        return "dockerfile"
    if name.lower().endswith(_YAML):
        return "kubernetes"
    is_json = name.lower().endswith(".json")
    if explicit or is_json:
        try:
            with path.open("rb") as fh:  # only the head is sniffed: do not read a huge file whole
                head = fh.read(4096).decode("utf-8", errors="replace")
        except OSError:
            return None
        if is_json:  # kubectl, Checkov and Trivy read manifests written as JSON; package.json is none
            return "kubernetes" if _JSON_API.search(head) else None  # "kind" of a List comes last
        if _starts_like_dockerfile(head):
            return "dockerfile"
        if _YAML_API.search(head) and _YAML_KIND.search(head):
            return "kubernetes"
    return None


def _starts_like_dockerfile(text: str) -> bool:
    """The first line that is neither blank nor a comment is a FROM or ARG instruction."""
    first = next((ln for ln in split_lines(text) if ln.strip() and not ln.lstrip().startswith("#")), None)
    return first is not None and _FIRST_INSTRUCTION.match(first) is not None


#: (path relative to the directory argument, is a directory) -> True to leave it out (--skip-dirs/--skip-files)
SkipFilter = Callable[[str, bool], bool]


def discover(paths: Iterable[str | Path], skip: SkipFilter | None = None) -> Iterator[tuple[Path, str]]:
    """(file, kind) for every Dockerfile and YAML manifest under ``paths`` (symlinks are not followed).
    Inside a directory argument, ``skip`` leaves out paths (relative to that directory); a file named as
    an argument is always checked."""
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
        if p.is_file():
            k = kind_of(p, explicit=True)
            if k is None:
                raise UsageError(f"{p}: neither a Dockerfile nor a Kubernetes YAML manifest")
            yield p, k
            continue
        for root, dirs, files in os.walk(p, followlinks=False):
            rel = os.path.relpath(root, p).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not (skip and skip(rel + d, True)))
            for name in sorted(files):
                fp = Path(root) / name
                if fp.is_symlink() or (skip and skip(rel + name, False)):
                    continue
                k = kind_of(fp)
                if k is not None:
                    yield fp, k


#: called after each file: (the file, files done, files in all)
Progress = Callable[[Path, int, int], None]


def scan_paths(paths: Iterable[str | Path], progress: Progress | None = None,
               skip: SkipFilter | None = None) -> ConfigResult:
    """Check every Dockerfile and Kubernetes manifest under ``paths`` (less what ``skip`` leaves out, see
    :func:`discover`). Bad files become counted warnings. The files are listed first, so that ``progress``
    knows the total."""
    res = ConfigResult()
    found = list(discover(paths, skip))
    for done, (p, kind) in enumerate(found, 1):
        if kind == "dockerfile":
            try:
                res.findings += scan_dockerfile(p)
                res.dockerfiles += 1
            except MisconfigError as exc:
                res.warnings.append(f"skipped: {exc}")
                res.skipped += 1
        else:
            from containerguard.misconfig.kubernetes import scan_manifest  # YAML only when there is some

            k = scan_manifest(p)
            res.manifests += 1
            res.objects += k.objects
            res.skipped += k.skipped
            res.findings += k.findings
            res.warnings += k.warnings
        if progress is not None:
            progress(p, done, len(found))
    return res


def scan_text(text: str, name: str = "<stdin>") -> ConfigResult:
    """Check one text that is a Dockerfile or Kubernetes YAML (e.g. ``helm template`` output on stdin)."""
    from containerguard.misconfig.dockerfile import check_dockerfile
    from containerguard.misconfig.dockerfile_parser import parse_dockerfile
    from containerguard.misconfig.kubernetes import scan_yaml_text

    res = ConfigResult()
    if _starts_like_dockerfile(text):
        try:
            res.findings += check_dockerfile(parse_dockerfile(text, name), name)
            res.dockerfiles += 1
        except MisconfigError as exc:
            res.warnings.append(f"skipped: {exc}")
            res.skipped += 1
        return res
    k = scan_yaml_text(text, name)
    res.manifests, res.objects, res.skipped = 1, k.objects, k.skipped
    res.findings += k.findings
    res.warnings += k.warnings
    return res

