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


def finalize(os: OSInfo | None, packages: Iterable[Package]) -> tuple[OSInfo, tuple[Package, ...]]:
    """(final OS, packages with OS package purls carrying the distribution namespace and qualifier)."""
    pkgs = tuple(packages)
    info = finalize_os(os, pkgs)
    if not info.known:
        return info, pkgs
    out = []
    for p in pkgs:
        if p.type in OS_PACKAGE_TYPES and p.purl:
            p = dataclasses.replace(p, purl=with_os(p.purl, info.family, info.version))
        out.append(p)
    return info, tuple(out)
