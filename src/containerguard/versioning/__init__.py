"""Version ordering per ecosystem.

    from containerguard.versioning import get_scheme, compare
    scheme = get_scheme("Debian:12")          # OSV ecosystem names or package types ("deb", "pypi", ...)
    scheme.key("1:2.3-4")                     # cached plain-tuple sort key; VersionError if unparseable
    scheme.compare("1.0~rc1", "1.0")          # -1
    compare("PyPI", "1.0rc1", "1.0")          # -1

Built-in schemes are listed once in ``SCHEMES``; ``ALIASES`` maps ecosystem names and package types
(lower-cased, without a ``:release`` suffix) to scheme names.
"""

from __future__ import annotations

from containerguard.ecosystems import scheme_aliases
from containerguard.errors import VersionError
from containerguard.versioning.apk import ApkScheme
from containerguard.versioning.base import Key, VersionScheme
from containerguard.versioning.composer import ComposerScheme
from containerguard.versioning.dpkg import DpkgScheme
from containerguard.versioning.maven import MavenScheme
from containerguard.versioning.pep440 import Pep440Scheme
from containerguard.versioning.rpm import RpmScheme
from containerguard.versioning.rubygems import RubyGemsScheme
from containerguard.versioning.semver import (
    CargoScheme,
    GoScheme,
    HexScheme,
    NpmScheme,
    NugetScheme,
    PubScheme,
)

__all__ = ["ALIASES", "SCHEMES", "Key", "VersionError", "VersionScheme", "compare", "get_scheme"]

SCHEMES: tuple[VersionScheme, ...] = (
    DpkgScheme(),
    ApkScheme(),
    RpmScheme(),
    Pep440Scheme(),
    NpmScheme(),
    CargoScheme(),
    GoScheme(),
    MavenScheme(),
    RubyGemsScheme(),
    NugetScheme(),
    ComposerScheme(),
    HexScheme(),
    PubScheme(),
)

_BY_NAME: dict[str, VersionScheme] = {s.name: s for s in SCHEMES}

ALIASES: dict[str, str] = {
    # OS distributions (OSV ecosystem names, os-release ids) and package types
    **dict.fromkeys(("debian", "ubuntu", "deb", "dpkg"), "dpkg"),
    **dict.fromkeys(
        ("alpine", "wolfi", "chainguard", "alpaquita", "bellsoft hardened containers", "minimos", "apk"), "apk"
    ),
    **dict.fromkeys(
        ("red hat", "redhat", "rhel", "rocky linux", "rocky", "almalinux", "alma", "suse", "opensuse",
         "sles", "opensuse-leap", "photon os", "photon", "mageia", "openeuler", "azure linux", "mariner",
         "amazon linux", "amazon", "amzn", "fedora", "centos", "oracle linux", "oracle", "ol", "rpm"),
        "rpm",
    ),
    # package ecosystems (package types, OSV names, tool names): the one table, containerguard.ecosystems
    **scheme_aliases(),
}


def get_scheme(ecosystem: str) -> VersionScheme:
    """The scheme for an OSV ecosystem ("Debian:12", "PyPI", ...), a package type or a scheme name."""
    if not isinstance(ecosystem, str):
        raise VersionError(f"unknown version scheme {ecosystem!r}")
    base = ecosystem.split(":", 1)[0].strip().lower()
    name = ALIASES.get(base, base)
    try:
        return _BY_NAME[name]
    except KeyError:
        raise VersionError(f"unknown version scheme {ecosystem!r}") from None


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, equal to or after ``b`` in ``ecosystem``."""
    return get_scheme(ecosystem).compare(a, b)
