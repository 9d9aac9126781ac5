"""A fixed Inventory and Findings covering every finding kind, for the report tests and golden files."""

from __future__ import annotations

from containerguard.model import (
    Finding,
    FindingKind,
    ImageMeta,
    Inventory,
    Layer,
    OSInfo,
    Package,
    Severity,
)
from containerguard.report import RenderOptions

TOOL_VERSION = "0.0.0-test"
TARGET = "docker-archive:/images/shop.tar"
CREATED = "2026-01-02T03:04:05Z"
SERIAL = "3f2b8c1e-9d4a-4b7e-8c6f-0a1b2c3d4e5f"

BASE = Layer(0, "sha256:" + "a" * 64, "sha256:" + "b" * 64, 1234, "debootstrap bookworm", "application/vnd.oci.image.layer.v1.tar+gzip")
APP = Layer(1, "sha256:" + "c" * 64, "sha256:" + "d" * 64, 999, "RUN pip install django==2.0 requests==2.19.0")
SECRETS = Layer(2, "sha256:" + "e" * 64, "sha256:" + "f" * 64, 42, "COPY config/ /app/config/")

CURL = Package("curl", "7.88.1-10+deb12u1", "deb", "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u1?arch=amd64&distro=debian-12",
               ("var/lib/dpkg/status",), BASE, "amd64", "curl", "7.88.1-10+deb12u1", analyzer="dpkg",
               licenses=("curl",))
LIBC = Package("libc6", "2.36-9+deb12u4", "deb", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
               ("var/lib/dpkg/status",), BASE, "amd64", "glibc", "2.36-9+deb12u4", analyzer="dpkg")
DJANGO = Package("django", "2.0", "pypi", "pkg:pypi/django@2.0",
                 ("usr/local/lib/python3.11/site-packages/Django-2.0.dist-info/METADATA",), APP, analyzer="python",
                 licenses=("BSD",))
REQUESTS = Package("requests", "2.19.0", "pypi", "pkg:pypi/requests@2.19.0",
                   ("usr/local/lib/python3.11/site-packages/requests-2.19.0.dist-info/METADATA",), APP,
                   analyzer="python", metadata={"author": "Kenneth Reitz"})
EVIL = Package("<script>alert(1)</script>", "1.0.0", "npm", "pkg:npm/%3Cscript%3Ealert%281%29%3C/script%3E@1.0.0",
               ("app/node_modules/evil/package.json",), APP, analyzer="npm")

SECRET = Finding(
    kind=FindingKind.SECRET, id="aws-access-key-id", title="AWS access key ID", severity=Severity.CRITICAL,
    path="app/config/settings.env", line=3, layer=SECRETS, match="AKIA****",
    description="AWS access key ID in app/config/settings.env line 3",
    remediation="Remove the secret from the image and rotate it.", cwe=("CWE-798",),
    extra={"rule": "aws-access-key-id", "offset": 57},
)


def inventory() -> Inventory:
    return Inventory(
        target=TARGET,
        os=OSInfo("debian", "12", "Debian GNU/Linux 12 (bookworm)", "bookworm"),
        packages=(CURL, LIBC, DJANGO, REQUESTS, EVIL),
        layers=(BASE, APP, SECRETS),
        image=ImageMeta(id="sha256:" + "9" * 64, repo_tags=("shop:1.0",), architecture="amd64", os="linux",
                        created="2025-12-31T00:00:00Z", config={"User": "", "Env": ["PATH=/usr/bin"]},
                        history=({"created_by": "debootstrap bookworm"},)),
        warnings=("python: 1 unreadable METADATA skipped",),
        created="2026-01-02T03:00:00+00:00",
        file_findings=(SECRET,),
    )


def findings() -> list[Finding]:
    return [
        Finding(kind=FindingKind.VULNERABILITY, id="CVE-2023-38545", title="SOCKS5 heap buffer overflow",
                severity=Severity.CRITICAL, target=TARGET, layer=BASE, package=CURL,
                aliases=("DSA-5587-1",), fixed_versions=("7.88.1-10+deb12u4",), status="fixed",
                severity_source="debian", cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", cvss_score=9.8,
                epss=0.25, epss_percentile=0.96, kev=False, risk=8.7, cwe=("CWE-787",),
                references=("https://curl.se/docs/CVE-2023-38545.html",),
                description="curl overflows a heap based buffer in the SOCKS5 proxy handshake."),
        Finding(kind=FindingKind.VULNERABILITY, id="GHSA-x38m-7r5r-hg3m", title="Django SQL injection",
                severity=Severity.HIGH, target=TARGET, layer=APP, package=DJANGO, aliases=("CVE-2019-14234", "PYSEC-2019-11"),
                fixed_versions=("1.11.23", "2.1.11", "2.2.4"), status="fixed", severity_source="ghsa",
                cvss_score=9.8, risk=9.1, kev=True, kev_date_added="2022-03-25",
                references=("https://github.com/advisories/GHSA-x38m-7r5r-hg3m",)),
        Finding(kind=FindingKind.VULNERABILITY, id="CVE-2023-4911", title="glibc ld.so GLIBC_TUNABLES overflow",
                severity=Severity.HIGH, target=TARGET, layer=BASE, package=LIBC, status="unfixed", risk=5.0),
        Finding(kind=FindingKind.VULNERABILITY, id="CVE-2018-18074", title="requests leaks Authorization header",
                severity=Severity.MEDIUM, target=TARGET, layer=APP, package=REQUESTS, fixed_versions=("2.20.0",),
                status="fixed", cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", cvss_score=7.5, risk=3.2),
        Finding(kind=FindingKind.MALICIOUS, id="MAL-2025-0001", title="Malicious code in <script>alert(1)</script> (npm)",
                severity=Severity.CRITICAL, target=TARGET, layer=APP, package=EVIL, risk=10.0),
        Finding(kind=FindingKind.MISCONFIG, id="DS002", title="Image runs as root", severity=Severity.HIGH,
                target=TARGET, path="Dockerfile", line=12, risk=4.0,
                description="The last USER instruction sets root.", remediation="Add USER 10001."),
        SECRET,
    ]


def suppressed() -> list[Finding]:
    return [
        Finding(kind=FindingKind.VULNERABILITY, id="CVE-2024-2398", title="HTTP/2 push headers memory leak",
                severity=Severity.MEDIUM, target=TARGET, layer=BASE, package=CURL, status="fixed",
                fixed_versions=("7.88.1-10+deb12u6",), risk=2.0,
                suppressed_by="vex vex.json: not_affected; justification: vulnerable_code_not_in_execute_path",
                extra={"suppression": {"source": "vex", "status": "not_affected",
                                       "justification": "vulnerable_code_not_in_execute_path"}}),
    ]


def options(**kw: object) -> RenderOptions:
    base: dict[str, object] = {"created": CREATED, "serial": SERIAL, "suppressed": tuple(suppressed()),
                               "expired_ignores": ("CVE-2022-0001 (.containerguard-ignore.yaml:7)",), "width": 160}
    base.update(kw)
    return RenderOptions(**base)  # type: ignore[arg-type]
