"""The one table of package ecosystems: for each ``Package.type`` the analyzers emit, its purl type, its
OSV ecosystem, its version scheme and the other names it goes by.

Everything that maps one of these to another reads this table: the SBOM reader (purl type ->
``Package.type``), the vulnerability database (``Package.type`` -> OSV ecosystem, the OSV feeds fetched by
default), the version comparators (ecosystem name -> scheme) and the matcher. Adding an ecosystem is one
row here, plus its analyzer and, when it needs one, its version scheme.

Bottom layer (docs/architecture.md): it imports nothing of ContainerGuard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Ecosystem(NamedTuple):
    """One package ecosystem."""

    #: ``Package.type`` as the analyzers emit it; also its purl type
    type: str
    #: the OSV ecosystem name ("" for the OS package types, whose OSV ecosystem is their distribution)
    osv: str
    #: the version scheme (:mod:`containerguard.versioning`), "" where none is implemented
    scheme: str
    #: other names meaning this ecosystem (lower case): tool names, scheme names, OSV spellings
    aliases: tuple[str, ...] = ()
    #: whether OSV's per-ecosystem feed is fetched by default (``db update``)
    fetched: bool = False
    #: the purl namespace is part of the package name ("@scope/name", "github.com/org/mod", "vendor/pkg")
    namespaced_name: bool = False


ECOSYSTEMS: tuple[Ecosystem, ...] = (
    Ecosystem("deb", "", "dpkg", ("dpkg",)),
    Ecosystem("apk", "", "apk"),
    Ecosystem("rpm", "", "rpm"),
    Ecosystem("pypi", "PyPI", "pep440", ("python", "pep440"), fetched=True),
    Ecosystem("npm", "npm", "semver", ("node", "semver", "bitnami"), fetched=True, namespaced_name=True),
    Ecosystem("golang", "Go", "go", ("go",), fetched=True, namespaced_name=True),
    Ecosystem("maven", "Maven", "maven", fetched=True),
    Ecosystem("cargo", "crates.io", "cargo", fetched=True),
    Ecosystem("gem", "RubyGems", "rubygems", ("rubygems",), fetched=True),
    Ecosystem("nuget", "NuGet", "nuget", fetched=True),
    Ecosystem("composer", "Packagist", "composer", ("packagist",), fetched=True, namespaced_name=True),
    Ecosystem("hex", "Hex", "hex", fetched=True),
    Ecosystem("pub", "Pub", "pub", fetched=True),
    Ecosystem("swift", "SwiftURL", "semver", ("swifturl",), namespaced_name=True),
    Ecosystem("hackage", "Hackage", ""),
    Ecosystem("cran", "CRAN", ""),
)

BY_TYPE: Mapping[str, Ecosystem] = {e.type: e for e in ECOSYSTEMS}

#: the OS package types (their advisories come per distribution)
OS_PACKAGE_TYPES = frozenset(e.type for e in ECOSYSTEMS if not e.osv)


def osv_ecosystem_of_type() -> dict[str, str]:
    """``{Package.type: OSV ecosystem}`` of the language ecosystems."""
    return {e.type: e.osv for e in ECOSYSTEMS if e.osv}


def scheme_aliases() -> dict[str, str]:
    """``{name: version scheme}`` for every name of every ecosystem that has a scheme: its type, its OSV
    name (lower case) and its aliases."""
    out: dict[str, str] = {}
    for e in ECOSYSTEMS:
        if e.scheme:
            for name in (e.type, e.osv.lower(), *e.aliases):
                if name:
                    out[name] = e.scheme
    return out


__all__ = ["BY_TYPE", "ECOSYSTEMS", "OS_PACKAGE_TYPES", "Ecosystem", "osv_ecosystem_of_type", "scheme_aliases"]
