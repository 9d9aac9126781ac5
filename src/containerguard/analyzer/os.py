"""Operating system detection from os-release and the distribution-specific release files.

Each file yields an :class:`OSInfo` with a priority (``os_priority``): os-release (the standard) beats
lsb-release, which beats the distribution release files, which beat ``etc/debian_version`` (present on
Ubuntu too). A ``var/lib/dpkg/status.d/*`` file (Google distroless) yields Debian with ``distroless=True``
at the lowest priority; :func:`containerguard.scanner.finalize.finalize_os` keeps the flag when
os-release also says Debian and the dpkg database is only ``status.d``.
"""

from __future__ import annotations

import re
import shlex
from typing import ClassVar

from containerguard.analyzer._util import read_text
from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.model import OSInfo

PRIO_OS_RELEASE = 100
PRIO_USR_OS_RELEASE = 90
PRIO_LSB = 60
PRIO_RELEASE_FILE = 50
PRIO_DEBIAN_VERSION = 20
PRIO_DISTROLESS = 10

#: os-release ID -> our family id
_ID_FAMILY = {
    "debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "wolfi": "wolfi", "chainguard": "chainguard",
    "rhel": "rhel", "centos": "centos", "rocky": "rocky", "almalinux": "alma", "ol": "ol", "fedora": "fedora",
    "amzn": "amzn", "sles": "sles", "sled": "sles", "sles_sap": "sles", "opensuse-leap": "opensuse-leap",
    "opensuse-tumbleweed": "opensuse-tumbleweed", "opensuse": "opensuse-leap", "sle-micro": "sle-micro",
    "photon": "photon", "mariner": "mariner", "azurelinux": "azurelinux", "arch": "arch",
    "raspbian": "debian", "oracle": "ol", "redhat": "rhel",
}

_RELEASE_FILES = {
    "etc/os-release": PRIO_OS_RELEASE,
    "usr/lib/os-release": PRIO_USR_OS_RELEASE,
    "etc/lsb-release": PRIO_LSB,
    "etc/alpine-release": PRIO_RELEASE_FILE,
    "etc/redhat-release": PRIO_RELEASE_FILE,
    "etc/centos-release": PRIO_RELEASE_FILE + 2,  # more specific than redhat-release on CentOS
    "etc/rocky-release": PRIO_RELEASE_FILE + 2,
    "etc/almalinux-release": PRIO_RELEASE_FILE + 2,
    "etc/oracle-release": PRIO_RELEASE_FILE + 2,
    "etc/fedora-release": PRIO_RELEASE_FILE + 2,
    "etc/system-release": PRIO_RELEASE_FILE + 1,
    "etc/SuSE-release": PRIO_RELEASE_FILE,
    "etc/debian_version": PRIO_DEBIAN_VERSION,
}

_MAX = 64 * 1024

#: redhat-release style: "<name> release <version> (<codename>)"
_REDHAT_LINE = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>[\d.]+)(?:\s*\((?P<code>[^)]*)\))?", re.I)


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting, comments and blank lines ignored."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value, comments=False, posix=True)
            value = parts[0] if parts else ""
        except ValueError:
            value = value.strip().strip("\"'")
        out[key.strip()] = value
    return out


def _family_from_ids(ident: str, id_like: str, name: str) -> str:
    fam = _ID_FAMILY.get(ident.lower())
    if fam:
        return fam
    low = name.lower()
    for needle, fam2 in (("chainguard", "chainguard"), ("wolfi", "wolfi"), ("red hat", "rhel"), ("centos", "centos"),
                         ("rocky", "rocky"), ("alma", "alma"), ("oracle", "ol"), ("amazon", "amzn"),
                         ("opensuse", "opensuse-leap"), ("suse", "sles")):
        if needle in low:
            return fam2
    return ident.lower() or "unknown"


def os_from_os_release(text: str) -> OSInfo | None:
    kv = parse_os_release(text)
    ident = kv.get("ID", "")
    if not ident and not kv.get("NAME"):
        return None
    family = _family_from_ids(ident, kv.get("ID_LIKE", ""), kv.get("NAME", ""))
    version = kv.get("VERSION_ID", "")
    codename = kv.get("VERSION_CODENAME", "") or kv.get("UBUNTU_CODENAME", "")
    if family == "debian" and not version and "sid" in kv.get("PRETTY_NAME", ""):
        codename = codename or "sid"
    return OSInfo(family=family, version=version, name=kv.get("PRETTY_NAME", "") or kv.get("NAME", ""),
                  codename=codename)


def os_from_lsb_release(text: str) -> OSInfo | None:
    kv = parse_os_release(text)
    ident = kv.get("DISTRIB_ID", "")
    if not ident:
        return None
    return OSInfo(family=_family_from_ids(ident, "", ident), version=kv.get("DISTRIB_RELEASE", ""),
                  name=kv.get("DISTRIB_DESCRIPTION", ""), codename=kv.get("DISTRIB_CODENAME", ""))


def os_from_redhat_style(text: str) -> OSInfo | None:
    """/etc/redhat-release, centos-release, system-release (Amazon Linux) ..."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    m = _REDHAT_LINE.match(line)
    if not m:
        return None
    name = m.group("name")
    low = name.lower()
    family = "unknown"
    for needle, fam in (("centos", "centos"), ("rocky", "rocky"), ("alma", "alma"), ("oracle", "ol"),
                        ("fedora", "fedora"), ("amazon", "amzn"), ("red hat", "rhel")):
        if needle in low:
            family = fam
            break
    if family == "unknown":
        return None
    return OSInfo(family=family, version=m.group("version"), name=line, codename=m.group("code") or "")


def os_from_suse_release(text: str) -> OSInfo | None:
    lines = text.strip().splitlines()
    if not lines:
        return None
    first = lines[0]
    family = "opensuse-leap" if "opensuse" in first.lower() else "sles" if "suse" in first.lower() else ""
    if not family:
        return None
    kv = {k.strip(): v.strip() for k, _, v in (ln.partition("=") for ln in lines[1:]) if k.strip()}
    version = kv.get("VERSION", "")
    if kv.get("PATCHLEVEL") and kv["PATCHLEVEL"] != "0":
        version = f"{version}.{kv['PATCHLEVEL']}"
    return OSInfo(family=family, version=version, name=first)


class OSAnalyzer(Analyzer):
    type: ClassVar[str] = "os"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return path in _RELEASE_FILES or path.startswith("var/lib/dpkg/status.d/")

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        path = inp.path
        if path.startswith("var/lib/dpkg/status.d/"):
            return AnalysisResult(os=OSInfo(family="debian", distroless=True), os_priority=PRIO_DISTROLESS)
        text = read_text(inp.stream, _MAX, path)
        prio = _RELEASE_FILES[path]
        info: OSInfo | None
        if path in ("etc/os-release", "usr/lib/os-release"):
            info = os_from_os_release(text)
        elif path == "etc/lsb-release":
            info = os_from_lsb_release(text)
        elif path == "etc/alpine-release":
            ver = text.strip().splitlines()[0].strip() if text.strip() else ""
            info = OSInfo(family="alpine", version=ver, name=f"Alpine Linux v{ver}") if ver else None
        elif path == "etc/debian_version":
            ver = text.strip().splitlines()[0].strip() if text.strip() else ""
            # Ubuntu writes a codename ("bookworm/sid") here; os-release says more and wins anyway
            if ver and ver[0].isdigit():
                info = OSInfo(family="debian", version=ver.split(".")[0] if "." in ver else ver, name=f"Debian {ver}")
            elif ver:
                info = OSInfo(family="debian", codename=ver.split("/")[0], name=f"Debian {ver}")
            else:
                info = None
        elif path == "etc/SuSE-release":
            info = os_from_suse_release(text)
        else:
            info = os_from_redhat_style(text)
        result = AnalysisResult()
        if info is None:
            result.warnings.append(f"{path}: no operating system recognised")
        else:
            result.os, result.os_priority = info, prio
        return result
