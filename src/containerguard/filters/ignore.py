"""The ignore file (``.containerguard-ignore.yaml``).

Shape (documented in docs/formats.md)::

    ignores:
      - id: CVE-2023-38545            # finding id or any of its aliases (required)
        package: curl                 # optional: package name or purl (pkg:deb/debian/curl)
        path: usr/lib/python3*/**     # optional: glob over the finding path / package locations
        reason: not reachable: we never pass a SOCKS5 proxy
        expires: 2026-06-30           # optional: after this date the entry stops suppressing

A top-level list (without ``ignores:``) is accepted too. Errors name the file and line.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from containerguard.errors import PolicyError
from containerguard.inputfile import read_input
from containerguard.model import Finding
from containerguard.yamlsafe import line_of, load_with_lines

MAX_POLICY_BYTES = 4 * 1024 * 1024


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    package: str | None = None
    path: str | None = None
    reason: str = ""
    expires: dt.date | None = None


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ignores: list[_EntryModel] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    id: str
    package: str | None = None
    path: str | None = None
    reason: str = ""
    expires: dt.date | None = None
    source: str = ""  # "FILE:LINE"

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, f: Finding) -> bool:
        ids = {f.id.upper(), *(a.upper() for a in f.aliases)}
        if self.id.upper() not in ids:
            return False
        if self.package is not None and not _package_matches(self.package, f):
            return False
        if self.path is not None:
            pattern = self.path.lstrip("/")
            paths = [f.path.lstrip("/")] if f.path else []
            if f.package is not None:
                paths.extend(p.lstrip("/") for p in f.package.locations)
            if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
                return False
        return True

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"ignore-file {self.source}{why}"


@dataclass(frozen=True, slots=True)
class IgnoreFile:
    path: str
    rules: tuple[IgnoreRule, ...]


def purl_matches(pattern: str, purl: str) -> bool:
    """``pattern`` (a purl, version and qualifiers optional) matches the package purl ``purl``."""
    try:
        want = PackageURL.from_string(pattern)
        have = PackageURL.from_string(purl)
    except ValueError:
        return False
    if (want.type, want.namespace or "", want.name) != (have.type, have.namespace or "", have.name):
        return False
    if want.version and want.version != have.version:
        return False
    have_q = have.qualifiers if isinstance(have.qualifiers, dict) else {}
    want_q = want.qualifiers if isinstance(want.qualifiers, dict) else {}
    return all(have_q.get(k) == v for k, v in want_q.items())


def _package_matches(spec: str, f: Finding) -> bool:
    pkg = f.package
    if pkg is None:
        return False
    if spec.startswith("pkg:"):
        return bool(pkg.purl) and purl_matches(spec, pkg.purl)
    return spec in (pkg.name, pkg.source_name)


def parse_ignore_file(text: str, source: str) -> IgnoreFile:
    data, node = load_with_lines(text, source, error=PolicyError, aliases=False, max_bytes=MAX_POLICY_BYTES)
    if data is None:
        return IgnoreFile(source, ())
    prefix: tuple[int | str, ...] = ()
    if isinstance(data, list):
        data = {"ignores": data}
        prefix = ("ignores",)
    try:
        doc = _FileModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        node_loc = loc[len(prefix):] if prefix and loc[:1] == prefix else loc
        line = line_of(node, node_loc)
        where = f"{source}:{line}" if line else source
        field = ".".join(str(p) for p in loc)
        raise PolicyError(f"{where}: {field}: {err['msg']}") from exc
    rules = []
    for i, e in enumerate(doc.ignores):
        loc_i: tuple[int | str, ...] = (i,) if prefix else ("ignores", i)
        line = line_of(node, loc_i)
        rules.append(IgnoreRule(e.id, e.package, e.path, e.reason, e.expires, f"{source}:{line}"))
    return IgnoreFile(source, tuple(rules))


def load_ignore_file(path: str | Path) -> IgnoreFile:
    p = Path(path)
    data = read_input(p, MAX_POLICY_BYTES, PolicyError, "ignore file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{p}: cannot read ignore file: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return parse_ignore_file(text, str(p))
