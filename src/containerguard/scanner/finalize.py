"""What the applier does once all layers are merged: settle the OS and the OS-dependent parts of purls.

A single file cannot know which distribution it sits in, so analyzers make deb/apk/rpm purls with a default
namespace and no ``distro`` qualifier; :func:`finalize` rewrites them from the detected OS
(``pkg:deb/ubuntu/...?distro=ubuntu-22.04``). It also keeps the distroless flag: Google's distroless images
have an os-release saying Debian and a dpkg database made only of ``var/lib/dpkg/status.d/*`` files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from containerguard.model import OSInfo, Package
from containerguard.purl import OS_PACKAGE_TYPES, with_os

_DISTROLESS_DIR = "var/lib/dpkg/status.d/"


def finalize_os(os: OSInfo | None, packages: Iterable[Package]) -> OSInfo:
    """The final OSInfo: "unknown" when nothing was detected; distroless when dpkg data is only status.d."""
    info = os or OSInfo()
    deb_locations = {loc for p in packages if p.type == "deb" for loc in p.locations}
    if deb_locations and all(loc.startswith(_DISTROLESS_DIR) for loc in deb_locations):
        if info.family == "unknown":
            info = OSInfo(family="debian", distroless=True)
        elif info.family == "debian" and not info.distroless:
            info = dataclasses.replace(info, distroless=True)
    elif info.distroless and "var/lib/dpkg/status" in deb_locations:
        info = dataclasses.replace(info, distroless=False)
    return info


def merge_lockfile_duplicates(packages: Iterable[Package]) -> list[Package]:
    """A package a lockfile lists and that is also installed (node_modules beside package-lock.json) is
    one package: the installed entry is kept and the lockfile's path added to its locations."""
    from containerguard.analyzer.lockfiles import lockfile_analyzer_types

    lock_types = lockfile_analyzer_types()
    pkgs = list(packages)
    installed: dict[tuple[str, str, str], int] = {}
    for i, p in enumerate(pkgs):
        if p.analyzer not in lock_types:
            installed.setdefault(p.key, i)
    out: list[Package | None] = list(pkgs)
    for i, p in enumerate(pkgs):
        j = installed.get(p.key)
        if p.analyzer in lock_types and j is not None:
            kept = out[j]
            assert kept is not None
            extra = tuple(loc for loc in p.locations if loc not in kept.locations)
            out[j] = dataclasses.replace(kept, locations=kept.locations + extra)
            out[i] = None
    return [p for p in out if p is not None]


def prefer_sqlite_rpmdb(packages: Iterable[Package]) -> list[Package]:
    """rpm reads one database backend. An image that has rpmdb.sqlite (rpm >= 4.16, the configured
    backend there) and a left-over BerkeleyDB ``Packages`` or NDB ``Packages.db`` from before a migration
    is described by the sqlite one: the stale legacy copies are dropped rather than listed twice."""
    pkgs = list(packages)
    if not any(p.type == "rpm" and any(loc.endswith("/rpmdb.sqlite") for loc in p.locations) for p in pkgs):
        return pkgs
    return [p for p in pkgs
            if not (p.type == "rpm" and p.locations and all(loc.endswith(_LEGACY_RPMDB) for loc in p.locations))]


_LEGACY_RPMDB = ("/Packages", "/Packages.db")


def finalize(os: OSInfo | None, packages: Iterable[Package]) -> tuple[OSInfo, tuple[Package, ...]]:
    """(final OS, packages with OS package purls carrying the distribution namespace and qualifier, and
    lockfile entries of installed packages merged into them, stale legacy rpm databases dropped)."""
    pkgs = tuple(prefer_sqlite_rpmdb(merge_lockfile_duplicates(packages)))
    info = finalize_os(os, pkgs)
    if not info.known:
        return info, pkgs
    out = []
    for p in pkgs:
        if p.type in OS_PACKAGE_TYPES and p.purl:
            p = dataclasses.replace(p, purl=with_os(p.purl, info.family, info.version))
        out.append(p)
    return info, tuple(out)
