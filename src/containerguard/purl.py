"""Package URL construction in one place (packageurl-python does the encoding and normalisation).

Analyzers build purls only through :func:`make_purl`; the applier adds OS-dependent parts (the deb/apk/rpm
namespace and the ``distro`` qualifier) later with :func:`with_os`, because one file alone does not know
which distribution it sits in.
"""

from __future__ import annotations

from collections.abc import Mapping

from packageurl import PackageURL

from containerguard import ecosystems

#: purl namespace per OS family for OS package types
OS_NAMESPACES: Mapping[str, str] = {
    "debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "wolfi": "wolfi", "chainguard": "chainguard",
    "rhel": "redhat", "centos": "centos", "rocky": "rocky", "alma": "almalinux", "ol": "oracle",
    "fedora": "fedora", "amzn": "amazon", "sles": "suse", "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse", "opensuse": "opensuse",
}
OS_PACKAGE_TYPES = ecosystems.OS_PACKAGE_TYPES
DEFAULT_NAMESPACE: Mapping[str, str] = {"deb": "debian", "apk": "alpine", "rpm": ""}


def make_purl(
    type: str,
    name: str,
    version: str = "",
    namespace: str | None = None,
    qualifiers: Mapping[str, str] | None = None,
    subpath: str | None = None,
) -> str:
    """One purl string; empty qualifier values are dropped."""
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return str(
        PackageURL(
            type=type, namespace=namespace or None, name=name, version=version or None,
            qualifiers=quals or None, subpath=subpath or None,
        ).to_string()
    )


def with_os(purl: str, family: str, version: str) -> str:
    """Set the distribution namespace and ``distro`` qualifier of an OS package purl (deb, apk, rpm)."""
    p = PackageURL.from_string(purl)
    if p.type not in OS_PACKAGE_TYPES or family in ("", "unknown"):
        return purl
    quals = dict(p.qualifiers) if isinstance(p.qualifiers, dict) else {}
    if version:
        quals["distro"] = f"{family}-{version}"
    return make_purl(p.type, p.name, p.version or "", OS_NAMESPACES.get(family, family), quals, p.subpath)
