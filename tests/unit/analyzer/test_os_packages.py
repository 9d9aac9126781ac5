"""dpkg and apk parsing details that the dpkg-query oracle on a clean rootfs does not exercise."""

from __future__ import annotations

import pytest
from helpers import run

from containerguard.analyzer.apk import ApkAnalyzer
from containerguard.analyzer.dpkg import DpkgAnalyzer
from containerguard.errors import AnalyzerError

STATUS = """\
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6160
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols.

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: util-linux
Status: install ok installed
Architecture: amd64
Source: util-linux
Version: 2.38.1-5+b1

Package: tzdata
Status: hold ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: half
Status: install ok half-installed
Architecture: amd64
Version: 1

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 1:12.2.0-14
"""


def test_dpkg_status() -> None:
    result = run(DpkgAnalyzer(), "var/lib/dpkg/status", STATUS)
    got = {p.name: p for p in result.packages}
    assert set(got) == {"libssl3", "util-linux", "tzdata", "libgcc-s1"}
    ssl = got["libssl3"]
    assert (ssl.version, ssl.arch, ssl.source_name, ssl.source_version) == (
        "3.0.11-1~deb12u2+b1", "amd64", "openssl", "3.0.11-1~deb12u2")
    assert ssl.purl == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2%2Bb1?arch=amd64"
    assert (got["util-linux"].source_name, got["util-linux"].source_version) == ("util-linux", "2.38.1-5+b1")
    assert got["libgcc-s1"].version == "1:12.2.0-14"  # epoch kept in the dpkg version
    assert result.warnings == []


def test_dpkg_distroless_status_d() -> None:
    a = DpkgAnalyzer()
    assert a.required("var/lib/dpkg/status.d/libc6", 0o100644)
    assert not a.required("var/lib/dpkg/status.d/libc6.md5sums", 0o100644)
    assert not a.required("var/lib/dpkg/status-old", 0o100644)
    result = run(a, "var/lib/dpkg/status.d/libc6",
                 "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n")
    assert [(p.name, p.source_name, p.locations) for p in result.packages] == [
        ("libc6", "glibc", ("var/lib/dpkg/status.d/libc6",))]


def test_dpkg_bad_stanzas_are_counted_warnings() -> None:
    text = "Package: ok\nStatus: install ok installed\nVersion: 1\n\nPackage: Bad Name!\nVersion: 1\n\nVersion: 2\n"
    result = run(DpkgAnalyzer(), "var/lib/dpkg/status", text)
    assert [p.name for p in result.packages] == ["ok"]
    assert len(result.warnings) == 2 and all("var/lib/dpkg/status:" in w for w in result.warnings)
    with pytest.raises(AnalyzerError):
        run(DpkgAnalyzer(), "var/lib/dpkg/status", "\x00\x01 binary junk without any field\n")


APK_DB = """\
C:Q1Wq5vM8tVwBGkz9mz9WnJqUv6Gqo=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1698136427
c:7f2f8ec1d0d8a2a5e5b9f1e5cbd63a3b7a59f4b8
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1Ua+7Ns1FCCY2ftXpZbspGjWAivI=

P:libcrypto3
V:3.1.4-r1
A:x86_64
L:Apache-2.0
o:openssl
F:lib
R:libcrypto.so.3

P:broken
A:x86_64
"""


def test_apk_installed() -> None:
    result = run(ApkAnalyzer(), "lib/apk/db/installed", APK_DB)
    got = {p.name: p for p in result.packages}
    assert set(got) == {"musl", "libcrypto3"}
    assert (got["libcrypto3"].version, got["libcrypto3"].source_name, got["libcrypto3"].arch) == (
        "3.1.4-r1", "openssl", "x86_64")
    assert got["musl"].licenses == ("MIT",)
    assert got["musl"].purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"
    assert len(result.warnings) == 1 and "P/V" in result.warnings[0]
    with pytest.raises(AnalyzerError):
        run(ApkAnalyzer(), "lib/apk/db/installed", "just some text\nwith no fields\n")
