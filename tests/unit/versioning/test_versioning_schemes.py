"""Documented orderings of each scheme, the ecosystem lookup and the error contract.

The oracle tests in tests/integration/test_version_oracles.py compare thousands of real pairs with
the ecosystems' own tools; these are the cases the ecosystems document (specs, test suites).
"""

from __future__ import annotations

import itertools
import random

import pytest

from containerguard.errors import ContainerGuardError, VersionError
from containerguard.versioning import SCHEMES, compare, get_scheme


def assert_increasing(scheme_name: str, chain: list[str]) -> None:
    scheme = get_scheme(scheme_name)
    for a, b in itertools.pairwise(chain):
        assert scheme.compare(a, b) == -1, (a, b)
        assert scheme.compare(b, a) == 1, (b, a)
    shuffled = chain[:]
    random.Random(1).shuffle(shuffled)
    assert scheme.sort(shuffled) == chain


def assert_equal(scheme_name: str, *versions: str) -> None:
    scheme = get_scheme(scheme_name)
    for v in versions[1:]:
        assert scheme.compare(versions[0], v) == 0, (versions[0], v)
        assert scheme.key(versions[0]) == scheme.key(v)


# --------------------------------------------------------------------------- dpkg (Debian Policy 5.6.12)


def test_dpkg_policy_examples() -> None:
    assert_increasing("dpkg", ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1"])
    assert_increasing("dpkg", ["1.0~beta1~svn1245", "1.0~beta1", "1.0", "1.0-1~bpo11+1", "1.0-1", "1.0-1+b1",
                               "1.0-1+deb12u1", "1.0-1.1", "1.0-2", "1.1", "1:0.1"])
    assert_increasing("dpkg", ["7.88.1-10", "7.88.1-10+deb12u4", "7.88.1-10+deb12u12"])
    assert_equal("dpkg", "1.0", "1.0-0", "0:1.0", "1.00")


def test_dpkg_errors() -> None:
    s = get_scheme("deb")
    for bad in ["", "a:1.0", "1:", "1.0-", "1.0 2", ":1.0", "1.0\u00e9"]:
        assert not s.valid(bad), bad
    # dpkg only warns about these and still compares them, so they compare here too
    assert s.valid("abc") and s.valid("1.0_1")


# --------------------------------------------------------------------------- rpm (rpm's rpmvercmp.at)


RPMVERCMP = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("2.0.1a", "2.0.1", 1), ("5.5p1", "5.5p2", -1),
    ("5.5p1", "5.5p10", -1), ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1), ("xyz.4", "8", -1),
    ("xyz.4", "2", -1), ("5.5p2", "5.6p1", -1), ("6.0.rc1", "6.0", 1), ("10b2", "10a1", 1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.1", 0), ("10.0001", "10.0039", -1), ("4.999.9", "5.0", -1), ("20101121", "20101122", -1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("a", "a", 0), ("a+", "a_", 0), ("+a", "_a", 0), ("+_", "_+", 0),
    ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1), ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0^git2", -1), ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0.1", -1), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0^git1~pre", "1.0^git1", -1),
]


@pytest.mark.parametrize(("a", "b", "want"), RPMVERCMP)
def test_rpmvercmp_cases(a: str, b: str, want: int) -> None:
    assert compare("rpm", a, b) == want
    assert compare("rpm", b, a) == -want


def test_rpm_evr() -> None:
    assert_increasing("Red Hat", ["1.0-1.el8", "1.0-1.el8_2", "1.0-2.el8", "1.1-1.el8", "1:0.9-1.el8"])
    assert_equal("rpm", "1.0-1", "0:1.0-1", ":1.0-1")
    # a missing release sorts before every release of that version (rpm itself calls them equal)
    assert compare("rpm", "1.0", "1.0-1") == -1
    assert not get_scheme("rpm").valid("1.0-")


# --------------------------------------------------------------------------- apk (apk-tools test/version.data)


APK_CASES = """
2.34 > 0.1.0_alpha
0.1.0_alpha2 > 0.1.0_alpha
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.2 < 1.3_alpha
0.12.3 > 0.12
1.06-r6 < 006
2.01.01_alpha10 > 0.94
1.0 > 0.99.3.20040818
1.39 > 1.00_beta2
20060720 > 3.0.20060720
2.5.1-r8 < 2.5.1a-r1
021109-r3 < 20060512
3.9_pre20060124 > 0.01
1.1.7 < 6b-r7
0.10.0-r1 > 0.10.0
0.10.0 < 0.10.1_rc1
2.0.2 > 1.1a
0.15.1b-r2 > 0.15.1b
2.1_pre20 < 2.1_pre26
2.10.1 > 02.08.01b
1.6d > 1.2.07.8
1.2.07.8 < 1.2.12.04
1.07-r1 < 1.07.5
3.3.17 > 0.59s-r11
0.20070118 < 0.20070207_rc1
4.5_p1-r1 > 4.5_p1
0.9.8c-r1 < 0.9.8d
1.7 < 1.7b
1.8.5 < 1.8.5_p2
0.98 < 1.00
2.9.11_pre20051101-r3 > 2.9.11_pre20051101
0.9.28-r2 < 0.9.28.1
0.9.28.1 < 087-r1
2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174
1.3-r0 < 1.3.1-r0
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
0.2.0-r1 = 0.2.0-r1
2.16.1-r3 = 2.16.1-r3
"""


@pytest.mark.parametrize("line", [x for x in APK_CASES.strip().splitlines()])
def test_apk_tools_cases(line: str) -> None:
    a, op, b = line.split()
    want = {"<": -1, "=": 0, ">": 1}[op]
    assert compare("Alpine:v3.19", a, b) == want
    assert compare("apk", b, a) == -want


def test_apk_suffixes_and_errors() -> None:
    assert_increasing("apk", ["1.2_alpha1", "1.2_beta", "1.2_pre2", "1.2_rc1", "1.2", "1.2-r1", "1.2_p1",
                              "1.2a", "1.2.1"])
    s = get_scheme("Wolfi")
    for bad in ["23_foo", "1.0-1", "abc", "1.0_x", "1.0-r1.2", "1.0a.1_rc", "-r1"]:
        assert not s.valid(bad), bad


# --------------------------------------------------------------------------- PEP 440


def test_pep440_spec_order() -> None:
    assert_increasing("PyPI", [
        "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
        "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
        "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1",
    ])
    assert_equal("pypi", "1.0", "1.0.0", "1.0.0.0", "v1.0", "1.0c1".replace("c1", ""))
    assert_equal("pypi", "1.0rc1", "1.0c1", "1.0-rc.1")
    for bad in ["not-a-version", "1.0-", "1..0", "1.0+", "=="]:
        with pytest.raises(VersionError):
            get_scheme("pypi").key(bad)


# --------------------------------------------------------------------------- SemVer family


SEMVER_ORG = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
              "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"]


@pytest.mark.parametrize("eco", ["npm", "crates.io", "Hex", "Pub", "Go", "NuGet"])
def test_semver_org_precedence(eco: str) -> None:
    assert_increasing(eco, SEMVER_ORG)


def test_semver_details() -> None:
    assert_equal("npm", "1.0.0+build.1", "1.0.0+build.2", "v1.0.0")
    assert_increasing("pub", ["1.0.0-dev", "1.0.0", "1.0.0+1", "1.0.0+2"])
    for bad in ["01.0.0", "1.0", "1.0.0-01", "1.0.0-", "1.0.0.0", "a.b.c"]:
        assert not get_scheme("npm").valid(bad), bad
    assert not get_scheme("cargo").valid("v1.0.0") and not get_scheme("hex").valid("v1.0.0")
    # OSV's "introduced: 0" means from the very first version
    for eco in ("npm", "cargo", "Go", "Hex", "Pub", "NuGet"):
        assert compare(eco, "0", "0.0.0-alpha") == -1


def test_go_versions() -> None:
    assert_increasing("Go", ["v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa",
                             "v0.0.1", "v1.2.3-pre", "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4",
                             "v1.17.0", "v2.0.0-rc.1"])
    assert_equal("golang", "v2.0.0+incompatible", "2.0.0", "v2", "v2.0")
    assert_increasing("Go", ["go1.20.9", "go1.20.10", "go1.21rc2", "go1.21.0", "1.21.1"])
    for bad in ["v1.2.3.4", "vx", "v1.2-pre", "v01.0.0"]:
        assert not get_scheme("go").valid(bad), bad


def test_nuget_versions() -> None:
    assert_equal("NuGet", "1.0", "1.0.0", "1.0.0.0", "1.0.0+abc")
    assert_equal("NuGet", "1.0.0-ALPHA", "1.0.0-alpha")
    assert_increasing("NuGet", ["1.0.0-beta01", "1.0.0-beta02", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1",
                                "10.0.0"])


# --------------------------------------------------------------------------- Maven (ComparableVersionTest)


def test_maven_qualifier_order() -> None:
    assert_increasing("Maven", ["1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2",
                                "1-m11", "1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2",
                                "1-sp123", "1-abc", "1-def", "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123"])


def test_maven_number_order() -> None:
    assert_increasing("maven", ["2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
                                "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                                "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m"])


def test_maven_equalities() -> None:
    assert_equal("Maven", "1", "1.0", "1.0.0", "1-0", "1.0.0.RELEASE", "1-ga", "1-final", "1.0.0-GA")
    assert_equal("Maven", "1a1", "1-a1", "1.0-alpha-1", "1-alpha1", "1ALPHA1")
    assert_increasing("Maven", ["2.14.1", "2.15.0", "2.16.0", "2.17.0"])


# --------------------------------------------------------------------------- RubyGems, Composer


def test_rubygems_versions() -> None:
    assert_increasing("RubyGems", ["1.0.a", "1.0.a.2", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1", "2.0.0.pre",
                                   "2.0.0"])
    assert_equal("gem", "1", "1.0", "1.0.0", "1.0.a" .replace(".a", ""))
    assert_equal("gem", "1.0-beta", "1.0.pre.beta")
    assert not get_scheme("gem").valid("junk") and not get_scheme("gem").valid("1.0..1")


def test_composer_versions() -> None:
    assert_increasing("Packagist", ["1.0.0-dev", "1.0.0-alpha1", "1.0.0-alpha2", "1.0.0-beta2", "1.0.0-RC1",
                                    "1.0.0", "1.0.0-patch1", "1.0.1", "1.2", "2.0.0"])
    assert_equal("composer", "v1.2", "1.2.0", "1.2.0.0")
    assert_equal("composer", "1.0.0-b2", "1.0.0-beta2", "1.0.0-beta.2")
    assert_equal("composer", "1.0.0-pl1", "1.0.0-patch1", "1.0.0-p1")
    assert_equal("composer", "1.0.0", "1.0.0+build.7", "1.0.0@stable", "1.0.0 as 2.0.0", "1.0.0-stable")
    assert_increasing("composer", ["2.0.0", "2.99.0", "2.x-dev", "3.0.0-dev", "3.0.0", "2010-01-02", "20100103"])
    for bad in ["dev-master", "master", "dev-feature/x", "junk", "", "1.0.0-foo"]:
        assert not get_scheme("composer").valid(bad), bad


# --------------------------------------------------------------------------- lookup and contract


@pytest.mark.parametrize(("name", "scheme"), [
    ("Debian", "dpkg"), ("Debian:12", "dpkg"), ("Ubuntu:22.04", "dpkg"), ("Ubuntu:Pro:18.04:LTS", "dpkg"),
    ("deb", "dpkg"), ("Alpine", "apk"), ("Alpine:v3.19", "apk"), ("Wolfi", "apk"), ("Chainguard", "apk"),
    ("apk", "apk"), ("Red Hat", "rpm"), ("Red Hat:enterprise_linux:9::baseos", "rpm"), ("Rocky Linux", "rpm"),
    ("AlmaLinux:9", "rpm"), ("SUSE", "rpm"), ("openSUSE", "rpm"), ("rpm", "rpm"), ("PyPI", "pep440"),
    ("pypi", "pep440"), ("npm", "semver"), ("semver", "semver"), ("Go", "go"), ("golang", "go"),
    ("Maven", "maven"), ("crates.io", "cargo"), ("cargo", "cargo"), ("RubyGems", "rubygems"),
    ("gem", "rubygems"), ("NuGet", "nuget"), ("Packagist", "composer"), ("composer", "composer"),
    ("Hex", "hex"), ("Pub", "pub"),
])
def test_get_scheme(name: str, scheme: str) -> None:
    assert get_scheme(name).name == scheme
    assert get_scheme(name) is get_scheme(scheme)


def test_unknown_scheme_and_bad_input_raise_version_error() -> None:
    for eco in ["GIT", "Linux", "", "cobol"]:
        with pytest.raises(VersionError, match="unknown version scheme"):
            get_scheme(eco)
    for scheme in SCHEMES:
        for bad in ["", " ", "x" * 300, None, 12]:
            with pytest.raises(VersionError) as info:
                scheme.key(bad)  # type: ignore[arg-type]
            assert isinstance(info.value, ContainerGuardError)
            assert "\n" not in str(info.value)
            assert not scheme.valid(bad)  # type: ignore[arg-type]


def test_keys_are_cached_plain_tuples() -> None:
    s = get_scheme("Debian")
    k = s.key("1:2.3-4")
    assert type(k) is tuple and s.key("1:2.3-4") is k
    hash(k)
    assert len({s.key("1.0"), s.key("1.0-0"), s.key("1.00")}) == 1


def test_maven_numeric_fast_path_equals_full_parse() -> None:
    from containerguard.versioning.maven import _list_key, parse_items

    s = get_scheme("maven")
    for v in ["1", "0", "1.0", "1.0.0", "2.14.1", "01.002.0", "1.0.1", "10.0.0.0.1", "0.0.0"]:
        assert s.key(v) == _list_key(parse_items(v)), v


def test_semver_bounds_written_loosely_are_repaired() -> None:
    """GitHub's SEMVER ranges hold bounds like ``1.90`` and ``19.03.9``; osv-scanner pads and reads them."""
    cases = {("npm", "1.90"): "1.90.0", ("npm", "10.3"): "10.3.0", ("crates.io", "0.62"): "0.62.0",
             ("Hex", "3.0"): "3.0.0", ("Pub", "1.0"): "1.0.0", ("Go", "19.03.9"): "19.3.9",
             ("Go", "17.06.0-ce"): "17.6.0-ce", ("Go", "2.10-rc2"): "2.10.0-rc2", ("Go", "3.0-beta1"): "3.0.0-beta1",
             ("npm", "1.2.3"): "1.2.3", ("npm", "0"): "0",
             # never made up: a date is not 2018.0.0-05-19, and other schemes keep their bounds
             ("Go", "2018-05-19"): "2018-05-19", ("PyPI", "0.9-stable"): "0.9-stable", ("Maven", "1.0"): "1.0"}
    for (eco, raw), want in cases.items():
        assert get_scheme(eco).bound(raw) == want, (eco, raw)
    # installed versions stay strict: node-semver refuses "1.0"
    assert not get_scheme("npm").valid("1.0")
