from __future__ import annotations

import pytest
from helpers import run

from containerguard.analyzer.base import AnalysisResult
from containerguard.analyzer.os import OSAnalyzer
from containerguard.model import OSInfo, Package
from containerguard.scanner.finalize import finalize, finalize_os

# os-release files as the distributions ship them
OS_RELEASES = {
    "debian": ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
               'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n', ("debian", "12", "bookworm")),
    "ubuntu": ('PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n'
               'VERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n', ("ubuntu", "22.04", "jammy")),
    "alpine": ('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
               ("alpine", "3.19.1", "")),
    "wolfi": ('ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\nVERSION_ID="20230201"\n', ("wolfi", "20230201", "")),
    "chainguard": ('ID="chainguard"\nNAME="Chainguard"\nPRETTY_NAME="Chainguard"\nVERSION_ID="20230214"\n',
                   ("chainguard", "20230214", "")),
    "rhel": ('NAME="Red Hat Enterprise Linux"\nVERSION="9.3 (Plow)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\n'
             'PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"\n', ("rhel", "9.3", "")),
    "centos": ('NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
               'PRETTY_NAME="CentOS Linux 7 (Core)"\n', ("centos", "7", "")),
    "rocky": ('NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
              'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n', ("rocky", "9.3", "")),
    "alma": ('NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\n'
             'VERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"\n', ("alma", "9.3", "")),
    "oracle": ('NAME="Oracle Linux Server"\nVERSION="8.9"\nID="ol"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n'
               'PRETTY_NAME="Oracle Linux Server 8.9"\n', ("ol", "8.9", "")),
    "fedora": ('NAME="Fedora Linux"\nVERSION="39 (Container Image)"\nID=fedora\nVERSION_ID=39\n'
               'VERSION_CODENAME=""\nPRETTY_NAME="Fedora Linux 39 (Container Image)"\n', ("fedora", "39", "")),
    "amazon": ('NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
               'PRETTY_NAME="Amazon Linux 2023"\n', ("amzn", "2023", "")),
    "sles": ('NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\n'
             'ID="sles"\nID_LIKE="suse"\n', ("sles", "15.5", "")),
    "opensuse": ('NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n'
                 'PRETTY_NAME="openSUSE Leap 15.5"\n', ("opensuse-leap", "15.5", "")),
}


@pytest.mark.parametrize("distro", sorted(OS_RELEASES))
def test_os_release(distro: str) -> None:
    text, (family, version, codename) = OS_RELEASES[distro]
    for path in ("etc/os-release", "usr/lib/os-release"):
        result = run(OSAnalyzer(), path, text)
        assert result.os is not None
        assert (result.os.family, result.os.version, result.os.codename) == (family, version, codename)
        assert result.os.name
        assert result.os.known


@pytest.mark.parametrize(("path", "text", "expected"), [
    ("etc/alpine-release", "3.18.4\n", ("alpine", "3.18.4")),
    ("etc/redhat-release", "Red Hat Enterprise Linux release 8.9 (Ootpa)\n", ("rhel", "8.9")),
    ("etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n", ("centos", "7.9.2009")),
    ("etc/redhat-release", "Rocky Linux release 8.9 (Green Obsidian)\n", ("rocky", "8.9")),
    ("etc/redhat-release", "AlmaLinux release 9.3 (Shamrock Pampas Cat)\n", ("alma", "9.3")),
    ("etc/oracle-release", "Oracle Linux Server release 7.9\n", ("ol", "7.9")),
    ("etc/fedora-release", "Fedora release 39 (Thirty Nine)\n", ("fedora", "39")),
    ("etc/system-release", "Amazon Linux release 2 (Karoo)\n", ("amzn", "2")),
    ("etc/debian_version", "12.5\n", ("debian", "12")),
    ("etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\nDISTRIB_CODENAME=focal\n"
     'DISTRIB_DESCRIPTION="Ubuntu 20.04.6 LTS"\n', ("ubuntu", "20.04")),
    ("etc/SuSE-release", "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 3\n", ("sles", "12.3")),
])
def test_release_files(path: str, text: str, expected: tuple[str, str]) -> None:
    result = run(OSAnalyzer(), path, text)
    assert result.os is not None
    assert (result.os.family, result.os.version) == expected


def test_os_release_beats_debian_version_on_ubuntu_whatever_the_order() -> None:
    a = OSAnalyzer()
    ubuntu = run(a, "etc/os-release", OS_RELEASES["ubuntu"][0])
    debver = run(a, "etc/debian_version", "bookworm/sid\n")
    for first, second in ((ubuntu, debver), (debver, ubuntu)):
        merged = AnalysisResult()
        merged.merge(first)
        merged.merge(second)
        assert merged.os is not None and merged.os.family == "ubuntu"


def test_centos_release_beats_redhat_release() -> None:
    a = OSAnalyzer()
    merged = AnalysisResult()
    merged.merge(run(a, "etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n"))
    merged.merge(run(a, "etc/redhat-release", "CentOS Linux release 7.9.2009 (Core)\n"))
    assert merged.os is not None and merged.os.family == "centos"


def test_unrecognised_is_a_warning_and_no_os() -> None:
    a = OSAnalyzer()
    result = run(a, "etc/redhat-release", "Something else entirely\n")
    assert result.os is None and len(result.warnings) == 1
    result = run(a, "etc/os-release", "")
    assert result.os is None and len(result.warnings) == 1
    assert finalize_os(None, []) == OSInfo(family="unknown")
    assert not finalize_os(None, []).known


def test_not_required_elsewhere() -> None:
    a = OSAnalyzer()
    assert not a.required("etc/os-release.bak", 0o100644)
    assert not a.required("usr/share/doc/os-release", 0o100644)


def _deb(name: str, loc: str) -> Package:
    return Package(name=name, version="1.0", type="deb", purl=f"pkg:deb/debian/{name}@1.0?arch=amd64", locations=(loc,))


def test_distroless() -> None:
    a = OSAnalyzer()
    merged = AnalysisResult()
    merged.merge(run(a, "var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4\n"))
    assert merged.os == OSInfo(family="debian", distroless=True)
    merged.merge(run(a, "etc/os-release", OS_RELEASES["debian"][0]))
    pkgs = [_deb("base-files", "var/lib/dpkg/status.d/base"), _deb("libc6", "var/lib/dpkg/status.d/libc6")]
    info, out = finalize(merged.os, pkgs)
    assert (info.family, info.version, info.distroless) == ("debian", "12", True)
    assert out[0].purl == "pkg:deb/debian/base-files@1.0?arch=amd64&distro=debian-12"
    # a normal Debian: status file present -> not distroless
    info2 = finalize_os(merged.os, [_deb("libc6", "var/lib/dpkg/status")])
    assert not info2.distroless


def test_finalize_sets_ubuntu_namespace() -> None:
    os = OSInfo(family="ubuntu", version="22.04")
    _, out = finalize(os, [_deb("bash", "var/lib/dpkg/status"),
                           Package(name="x", version="1", type="npm", purl="pkg:npm/x@1")])
    assert out[0].purl == "pkg:deb/ubuntu/bash@1.0?arch=amd64&distro=ubuntu-22.04"
    assert out[1].purl == "pkg:npm/x@1"
