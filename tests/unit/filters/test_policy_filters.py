"""Ignore files, OpenVEX documents and the CI gate, from real-format files written to disk."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from containerguard.errors import PolicyError
from containerguard.filters import VexSubject, filter_findings, gate, load_ignore_file, load_vex
from containerguard.model import Finding, FindingKind, ImageMeta, Layer, Package, Severity

TODAY = dt.date(2026, 3, 1)
CURL = Package("curl", "7.88.1-10+deb12u1", "deb", "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u1?arch=amd64&distro=debian-12",
               ("var/lib/dpkg/status",), Layer(0, "sha256:aa"), source_name="curl")
LIBCURL = Package("libcurl4", "7.88.1-10+deb12u1", "deb",
                  "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u1?arch=amd64&distro=debian-12", ("var/lib/dpkg/status",),
                  source_name="curl")
DJANGO = Package("django", "2.0", "pypi", "pkg:pypi/django@2.0",
                 ("usr/local/lib/python3.11/site-packages/Django-2.0.dist-info/METADATA",))
DJANGO_VENV = Package("django", "2.0", "pypi", "pkg:pypi/django@2.0",
                      ("opt/venv/lib/python3.11/site-packages/Django-2.0.dist-info/METADATA",))


def vuln(id_: str, pkg: Package, sev: Severity = Severity.HIGH, aliases: tuple[str, ...] = (),
         fixed: tuple[str, ...] = ("1.0",)) -> Finding:
    return Finding(kind=FindingKind.VULNERABILITY, id=id_, title=id_, severity=sev, package=pkg, aliases=aliases,
                   fixed_versions=fixed, status="fixed" if fixed else "unfixed")


SECRET = Finding(kind=FindingKind.SECRET, id="aws-access-key-id", title="AWS key", severity=Severity.CRITICAL,
                 path="app/tests/fixtures/creds.env", line=2, match="AKIA****")


def sample() -> list[Finding]:
    return [
        vuln("CVE-2023-38545", CURL, Severity.CRITICAL, aliases=("DSA-5587-1",)),
        vuln("CVE-2023-38545", LIBCURL, Severity.CRITICAL, aliases=("DSA-5587-1",)),
        vuln("GHSA-x38m-7r5r-hg3m", DJANGO, Severity.HIGH, aliases=("CVE-2019-14234", "PYSEC-2019-11")),
        vuln("GHSA-x38m-7r5r-hg3m", DJANGO_VENV, Severity.HIGH, aliases=("CVE-2019-14234",)),
        vuln("CVE-2023-4911", CURL, Severity.MEDIUM, fixed=()),
        vuln("CVE-2024-0001", DJANGO, Severity.LOW),
        SECRET,
    ]


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# --------------------------------------------------------------------------- severity / unfixed


def test_severity_filter_and_ignore_unfixed() -> None:
    res = filter_findings(sample(), severities={Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}, ignore_unfixed=True,
                          today=TODAY)
    kept_ids = [f.id for f in res.kept]
    assert "CVE-2024-0001" not in kept_ids  # LOW dropped
    assert "CVE-2023-4911" not in kept_ids  # unfixed dropped
    assert "aws-access-key-id" in kept_ids  # secrets are never "unfixed"
    assert {f.id for f in res.dropped} == {"CVE-2024-0001", "CVE-2023-4911"}
    assert res.suppressed == ()


# --------------------------------------------------------------------------- ignore file


IGNORE = """\
# .containerguard-ignore.yaml
ignores:
  - id: CVE-2019-14234          # an alias of the GHSA id
    package: pkg:pypi/django
    path: usr/local/lib/python3.11/**
    reason: SQL only through our ORM wrapper
    expires: 2026-12-31
  - id: DSA-5587-1
    package: libcurl4
    reason: no SOCKS5 proxy in production
  - id: aws-access-key-id
    path: app/tests/**
    reason: test fixtures, fake keys
  - id: CVE-2024-0001
    reason: accepted until the upgrade
    expires: 2026-01-31
"""


def test_ignore_file_matches_alias_package_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, ".containerguard-ignore.yaml", IGNORE)
    res = filter_findings(sample(), ignore_file=path, today=TODAY)
    supp = {(f.id, f.package.name if f.package else f.path, f.package.locations[0] if f.package else "") for f in res.suppressed}
    assert ("GHSA-x38m-7r5r-hg3m", "django", DJANGO.locations[0]) in supp
    assert ("GHSA-x38m-7r5r-hg3m", "django", DJANGO_VENV.locations[0]) not in supp  # path glob excludes the venv
    assert ("CVE-2023-38545", "libcurl4", "var/lib/dpkg/status") in supp
    assert ("CVE-2023-38545", "curl", "var/lib/dpkg/status") not in supp  # package name limits the entry
    assert ("aws-access-key-id", "app/tests/fixtures/creds.env", "") in supp
    by = {f.id + (f.package.name if f.package else ""): f.suppressed_by for f in res.suppressed}
    assert by["GHSA-x38m-7r5r-hg3mdjango"] == f"ignore-file {path}:3: SQL only through our ORM wrapper"
    assert by["CVE-2023-38545libcurl4"] == f"ignore-file {path}:8: no SOCKS5 proxy in production"


def test_expired_entries_stop_suppressing_and_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, ".containerguard-ignore.yaml", IGNORE)
    res = filter_findings(sample(), ignore_file=path, today=TODAY)
    assert [(r.id, r.source) for r in res.expired_ignores] == [("CVE-2024-0001", f"{path}:14")]
    assert "CVE-2024-0001" in [f.id for f in res.kept]
    later = filter_findings(sample(), ignore_file=path, today=dt.date(2027, 1, 1))
    assert {r.id for r in later.expired_ignores} == {"CVE-2019-14234", "CVE-2024-0001"}
    assert "GHSA-x38m-7r5r-hg3m" not in {f.id for f in later.suppressed}


def test_top_level_list_form(tmp_path: Path) -> None:
    path = write(tmp_path, "ignore.yaml", "- id: CVE-2023-4911\n  reason: not reachable\n")
    res = filter_findings(sample(), ignore_file=path, today=TODAY)
    assert [f.id for f in res.suppressed] == ["CVE-2023-4911"]
    assert res.suppressed[0].suppressed_by == f"ignore-file {path}:1: not reachable"


@pytest.mark.parametrize(("text", "where", "what"), [
    ("ignores:\n  - id: CVE-1\n    expire: 2026-01-01\n", ":3", "ignores.0.expire: Extra inputs are not permitted"),
    ("ignores:\n  - id: CVE-1\n  - id: CVE-2\n    expires: next tuesday\n", ":4", "ignores.1.expires"),
    ("ignores:\n  - reason: no id\n", ":2", "ignores.0.id: Field required"),
    ("ignores:\n  - id: [unclosed\n", ":3", "invalid YAML"),
    ("ignores: 5\n", ":1", "ignores: Input should be a valid list"),
    ("- id: CVE-1\n  package: 3\n", ":2", "ignores.0.package"),
])
def test_malformed_ignore_file_names_file_and_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = write(tmp_path, ".containerguard-ignore.yaml", text)
    with pytest.raises(PolicyError) as exc:
        load_ignore_file(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}{where}:"), msg
    assert what in msg
    assert "\n" not in msg


def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join('*' + prev for _ in range(9))}]")
    lines.append("ignores: *j")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(PolicyError, match=r"bomb.yaml:1: YAML anchors and aliases are not allowed"):
        load_ignore_file(path)


def test_missing_and_binary_ignore_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read ignore file"):
        load_ignore_file(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match=r"bin\.yaml"):
        load_ignore_file(p)


def test_deeply_nested_yaml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", "ignores: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(PolicyError, match="nesting deeper than 64 levels"):
        load_ignore_file(path)


# --------------------------------------------------------------------------- OpenVEX


def openvex(statements: list[dict[str, object]], timestamp: str = "2026-02-01T10:00:00Z") -> str:
    return json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.org/vex/shop-2026-02",
        "author": "Shop Security <security@example.org>",
        "timestamp": timestamp,
        "version": 1,
        "statements": statements,
    }, indent=2)


def test_openvex_not_affected_and_fixed_suppress_with_justification(tmp_path: Path) -> None:
    doc = write(tmp_path, "shop.openvex.json", openvex([
        {"vulnerability": {"name": "CVE-2023-38545", "aliases": ["DSA-5587-1"]},
         "products": [{"@id": "pkg:oci/shop?repository_url=registry.example.org/shop",
                       "subcomponents": [{"@id": "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u1?arch=amd64&distro=debian-12"}]}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
         "impact_statement": "SOCKS5 proxies are never configured"},
        {"vulnerability": {"name": "GHSA-x38m-7r5r-hg3m"},
         "products": [{"@id": "pkg:pypi/django@2.0"}],
         "status": "fixed"},
    ]))
    shop = VexSubject.of(["registry.example.org/shop:1.4"])
    res = filter_findings(sample(), vex=doc, today=TODAY, subject=shop)
    supp = {(f.id, f.package.name if f.package else "") for f in res.suppressed}
    assert supp == {("CVE-2023-38545", "libcurl4"), ("GHSA-x38m-7r5r-hg3m", "django")}
    # the same document on another image: only the package product (django) still applies
    other = filter_findings(sample(), vex=doc, today=TODAY, subject=VexSubject.of(["registry.example.org/cart:1"]))
    assert {f.id for f in other.suppressed} == {"GHSA-x38m-7r5r-hg3m"}
    curl = next(f for f in res.suppressed if f.id == "CVE-2023-38545")
    assert curl.suppressed_by == (f"vex {doc}: not_affected; justification: vulnerable_code_not_in_execute_path; "
                                  "impact: SOCKS5 proxies are never configured")
    assert curl.extra["suppression"]["justification"] == "vulnerable_code_not_in_execute_path"
    # the curl binary package (not a listed subcomponent) keeps its finding
    assert ("CVE-2023-38545", "curl") in {(f.id, f.package.name) for f in res.kept if f.package}


def test_openvex_affected_and_under_investigation_keep(tmp_path: Path) -> None:
    doc = write(tmp_path, "vex.json", openvex([
        {"vulnerability": {"name": "CVE-2019-14234"}, "products": [{"@id": "pkg:pypi/django"}],
         "status": "affected", "action_statement": "upgrade to 2.2.4 this sprint"},
        {"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:deb/debian/curl"}],
         "status": "under_investigation"},
    ]))
    res = filter_findings(sample(), vex=doc, today=TODAY)
    assert res.suppressed == ()
    django = [f for f in res.kept if f.id == "GHSA-x38m-7r5r-hg3m"]
    assert len(django) == 2 and all(f.extra["vex"]["status"] == "affected" for f in django)
    assert django[0].extra["vex"]["action_statement"] == "upgrade to 2.2.4 this sprint"


def test_openvex_image_product_without_subcomponents_covers_every_package(tmp_path: Path) -> None:
    doc = write(tmp_path, "vex.json", openvex([
        {"vulnerability": {"name": "DSA-5587-1"}, "products": [{"@id": "pkg:oci/shop@sha256%3Aabc"}],
         "status": "not_affected", "justification": "component_not_present"},
    ]))
    image = ImageMeta(id="sha256:cfg", repo_digests=("registry.example.org/shop@sha256:abc",))
    res = filter_findings(sample(), vex=doc, today=TODAY, subject=VexSubject.of([], image))
    assert sorted(f.package.name for f in res.suppressed if f.package) == ["curl", "libcurl4"]
    # another image, or an image that cannot be told: nothing suppressed
    for subject in (VexSubject.of(["registry.example.org/shop@sha256:def"]), None):
        assert filter_findings(sample(), vex=doc, today=TODAY, subject=subject).suppressed == ()


@pytest.mark.parametrize(("product", "refs", "applies"), [
    ("pkg:oci/debian?repository_url=docker.io/library/debian", ["debian:12"], True),
    ("pkg:oci/debian?repository_url=docker.io/library/debian&tag=12", ["debian:12"], True),
    ("pkg:oci/debian?repository_url=docker.io/library/debian&tag=11", ["debian:12"], False),
    ("pkg:oci/debian?repository_url=ghcr.io/acme/debian", ["debian:12"], False),
    ("pkg:oci/debian", ["localhost:5000/team/debian:12"], True),  # bare name: the repository's last segment
    ("pkg:oci/debian@sha256%3Aabc", ["debian@sha256:abc"], True),
    ("pkg:oci/debian@sha256%3Aabc", ["debian:12"], False),
    ("pkg:docker/library/debian@12", ["debian:12"], True),
    ("pkg:docker/acme/app@1.0?repository_url=ghcr.io", ["ghcr.io/acme/app:1.0"], True),
    ("pkg:docker/acme/app@1.0", ["ghcr.io/acme/app:1.0"], False),  # docker.io/acme/app is another image
    ("pkg:docker/library/debian@sha256%3Aabc", ["sha256:abc"], True),
])
def test_openvex_image_product_scope(tmp_path: Path, product: str, refs: list[str], applies: bool) -> None:
    doc = write(tmp_path, "vex.json", openvex([
        {"vulnerability": {"name": "DSA-5587-1"}, "products": [{"@id": product}],
         "status": "not_affected", "justification": "component_not_present"},
    ]))
    res = filter_findings(sample(), vex=doc, today=TODAY, subject=VexSubject.of(refs))
    assert bool(res.suppressed) is applies


def test_openvex_package_purl_with_and_without_qualifiers(tmp_path: Path) -> None:
    doc = write(tmp_path, "vex.json", openvex([
        {"vulnerability": {"name": "CVE-2023-38545"}, "products": [{"@id": "pkg:deb/debian/libcurl4?arch=arm64"}],
         "status": "not_affected", "justification": "component_not_present"},
        {"vulnerability": {"name": "CVE-2023-38545"},
         "products": [{"@id": "x", "identifiers": {"purl": "pkg:deb/debian/curl"}}],
         "status": "not_affected", "justification": "component_not_present"},
    ]))
    res = filter_findings(sample(), vex=doc, today=TODAY)
    assert {f.package.name for f in res.suppressed if f.package} == {"curl"}  # libcurl4 is amd64


def test_openvex_latest_statement_wins(tmp_path: Path) -> None:
    doc = write(tmp_path, "vex.json", openvex([
        {"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:deb/debian/curl"}],
         "status": "not_affected", "justification": "component_not_present", "timestamp": "2026-01-01T00:00:00Z"},
        {"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:deb/debian/curl"}],
         "status": "affected", "timestamp": "2026-02-15T00:00:00Z"},
    ]))
    res = filter_findings(sample(), vex=doc, today=TODAY)
    assert "CVE-2023-4911" in [f.id for f in res.kept]


def test_openvex_legacy_string_vulnerability_and_several_documents(tmp_path: Path) -> None:
    old = write(tmp_path, "old.json", json.dumps({
        "@context": "https://openvex.dev/ns", "@id": "x", "author": "a", "timestamp": "2023-01-01T00:00:00Z",
        "statements": [{"vulnerability": "CVE-2024-0001", "products": ["pkg:pypi/django@2.0"], "status": "fixed"}]}))
    # v0.0.x listed products as plain strings: accepted as @id
    new = write(tmp_path, "new.json", openvex([
        {"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:deb/debian/curl"}],
         "status": "fixed"}]))
    res = filter_findings(sample(), vex=[old, new], today=TODAY)
    assert sorted((f.id, f.package.name) for f in res.suppressed if f.package) == [
        ("CVE-2023-4911", "curl"), ("CVE-2024-0001", "django")]


@pytest.mark.parametrize(("text", "what"), [
    ("{", "invalid JSON"),
    (json.dumps({"@context": "https://example.org/csaf", "statements": []}), "not an OpenVEX document"),
    (openvex([{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:pypi/a"}], "status": "not_affected"}]),
     "not_affected needs a justification or an impact_statement"),
    (openvex([{"vulnerability": {"name": "CVE-1"}, "products": [], "status": "maybe"}]), "statements.0.status"),
])
def test_malformed_vex_is_a_clear_error(tmp_path: Path, text: str, what: str) -> None:
    doc = write(tmp_path, "bad.vex.json", text)
    with pytest.raises(PolicyError) as exc:
        load_vex(doc)
    assert str(exc.value).startswith(str(doc)) and what in str(exc.value)


# --------------------------------------------------------------------------- gate


def test_gate_exit_codes() -> None:
    fs = sample()
    assert gate(fs, Severity.CRITICAL, 1) == 1
    assert gate([f for f in fs if f.severity < Severity.CRITICAL], Severity.CRITICAL, 1) == 0
    assert gate(fs, Severity.HIGH, 7) == 7
    assert gate(fs, None, 3) == 3
    assert gate([], None, 3) == 0
    assert gate([], Severity.LOW, 1) == 0
    assert gate(fs, Severity.LOW, 0) == 0
