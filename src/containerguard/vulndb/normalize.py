"""Ecosystem and package-name normalisation shared by the database build and the detector.

Both sides must agree byte for byte, so there is exactly one implementation of each rule here:

* ecosystems: OSV spellings (``PyPI``, ``npm``, ``Go``, ``Maven``, ``crates.io``, ``RubyGems``, ``NuGet``,
  ``Packagist``, ``Hex``, ``Pub``, ``Debian:12``, ``Ubuntu:22.04``, ``Alpine:v3.19``, ``AlmaLinux:9`` ...).
  Ubuntu's ``:LTS`` suffix is dropped (``Ubuntu:22.04:LTS`` -> ``Ubuntu:22.04``).
* names: PEP 503 for PyPI; lower case for the case-insensitive registries (npm, NuGet, Packagist,
  RubyGems, Hex, Pub, Maven ``group:artifact``); crates.io also folds ``_`` to ``-``; Go module paths
  and distribution package names are kept as written (they are case-sensitive).
"""

from __future__ import annotations

import re

from containerguard.ecosystems import osv_ecosystem_of_type

_PEP503 = re.compile(r"[-_.]+")

#: OSV ecosystem (the part before ':') for each Package.type the analyzers emit (language packages)
LANGUAGE_ECOSYSTEMS: dict[str, str] = osv_ecosystem_of_type()  # from the one table, containerguard.ecosystems

_LOWER = {"npm", "NuGet", "Packagist", "RubyGems", "Hex", "Pub", "Maven", "crates.io", "Hackage"}
#: distribution ecosystems: the `versions` enumerations are derived from the ranges and are not stored
DISTRO_BASES = frozenset({
    "Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE",
    "Photon OS", "Mageia", "Wolfi", "Chainguard", "openEuler", "Azure Linux", "Oracle Linux",
})


def base(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``."""
    return ecosystem.split(":", 1)[0]


def ecosystem(name: str) -> str:
    """Canonical spelling of an OSV ecosystem string."""
    e = name.strip()
    if e.startswith("Ubuntu:"):
        parts = [p for p in e.split(":") if p != "LTS"]
        e = ":".join(parts)
    return e


def package_name(eco: str, name: str) -> str:
    """Canonical package name within an ecosystem (the DB key)."""
    b = base(eco)
    if b == "PyPI":
        return _PEP503.sub("-", name).lower()
    if b == "crates.io":
        return name.lower().replace("_", "-")
    if b in _LOWER:
        return name.lower()
    return name


def is_distro(eco: str) -> bool:
    return base(eco) in DISTRO_BASES
