"""Pure logic of the detector: range compilation and evaluation with the real version schemes, package
resolution, the finding constructor and the risk formula."""

from __future__ import annotations

import dataclasses
import json

import pytest

from containerguard.detect import risk
from containerguard.detect.matcher import _compile, _hit, _new_finding, ecosystem_for, match_name_version
from containerguard.model import Finding, FindingKind, Layer, OSInfo, Package, Severity
from containerguard.versioning import get_scheme


def entry(eco: str, ranges: list, versions: list[str] | None = None):
    e = _compile(get_scheme(eco), ranges, json.dumps(versions, separators=(",", ":")) if versions else "", "X-1",
                 "test", "")
    assert e is not None
    return e


def hit(e, v: str, eco: str = "PyPI") -> tuple[bool, str]:
    return _hit(e, v, get_scheme(eco).key(v))


def test_introduced_fixed_and_multiple_ranges() -> None:
    e = entry("PyPI", [["E", [["i", "1.11"], ["f", "1.11.15"], ["i", "2.0"], ["f", "2.0.8"]]]])
    assert hit(e, "1.10") == (False, "")
    assert hit(e, "1.11") == (True, "1.11.15")
    assert hit(e, "1.11.14") == (True, "1.11.15")
    assert hit(e, "1.11.15") == (False, "")
    assert hit(e, "1.99") == (False, "")
    assert hit(e, "2.0") == (True, "2.0.8")
    assert hit(e, "2.0.8") == (False, "")
    # PEP 440 ordering, not string ordering: 2.0.10 > 2.0.8
    assert hit(e, "2.0.10") == (False, "")
    assert hit(e, "2.0rc1") == (False, "")  # a pre-release of 2.0 sorts before it


def test_last_affected_limit_and_open_ranges() -> None:
    e = entry("npm", [["S", [["i", "0"], ["l", "4.17.20"]]]])
    assert hit(e, "4.17.20", "npm") == (True, "")
    assert hit(e, "4.17.21", "npm") == (False, "")
    open_ = entry("npm", [["S", [["i", "1.0.0"]]]])
    assert hit(open_, "99.0.0", "npm") == (True, "") and hit(open_, "0.9.0", "npm") == (False, "")
    lim = entry("Go", [["S", [["i", "0"], ["x", "1.2.0"]]]])
    assert hit(lim, "1.1.9", "Go") == (True, "") and hit(lim, "1.2.0", "Go") == (False, "")


def test_versions_list_matches_exact_strings_and_reports_next_fix() -> None:
    e = entry("PyPI", [["E", [["i", "3.0"], ["f", "3.2"]]]], ["2.5", "3.0", "3.1"])
    assert hit(e, "2.5") == (True, "3.2")  # listed although outside the range: the list is data too
    assert hit(e, "3.1") == (True, "3.2")
    assert _hit(e, "2.5", None) == (True, "")  # unparseable installed version: only the list applies
    assert hit(e, "2.6") == (False, "") and _hit(e, "3.", None) == (False, "")  # no partial-string match
    quoted = entry("npm", [["S", [["i", "9.0.0"]]]], ['1.0.0-"x"', "1.0.0"])
    assert hit(quoted, "1.0.0", "npm")[0] and not _hit(quoted, '"x"', None)[0]


def test_dpkg_epochs_and_tildes() -> None:
    e = entry("Debian:12", [["E", [["i", "0"], ["f", "1:9.2p1-2+deb12u3"]]]])
    assert hit(e, "1:9.2p1-2+deb12u2", "Debian:12") == (True, "1:9.2p1-2+deb12u3")
    assert hit(e, "9.9-1", "Debian:12") == (True, "1:9.2p1-2+deb12u3")  # no epoch = epoch 0
    assert hit(e, "1:9.2p1-2+deb12u3~bpo11+1", "Debian:12")[0] is True  # ~ sorts before
    assert hit(e, "1:9.2p1-2+deb12u3", "Debian:12") == (False, "")


def test_unparseable_bound_drops_the_entry() -> None:
    assert _compile(get_scheme("PyPI"), [["E", [["i", "0"], ["f", "not a version!!"]]]], "", "X", "s", "") is None


def test_ecosystem_for_and_match_keys() -> None:
    deb = Package("libcurl4", "7.88.1-10+deb12u3", "deb", source_name="curl", source_version="7.88.1-10+deb12u3")
    assert ecosystem_for(deb, OSInfo("debian", "12")) == "Debian:12"
    assert ecosystem_for(deb, OSInfo("ubuntu", "22.04")) == "Ubuntu:22.04"
    assert ecosystem_for(deb, OSInfo()) is None
    assert match_name_version(deb, "Debian:12") == ("curl", "7.88.1-10+deb12u3")
    apk = Package("libcrypto3", "3.1.4-r1", "apk", source_name="openssl")
    assert ecosystem_for(apk, OSInfo("alpine", "3.19.1")) == "Alpine:v3.19"
    assert ecosystem_for(apk, OSInfo("alpine", "3.21_alpha20240807")) == "Alpine:edge"
    assert match_name_version(apk, "Alpine:v3.19") == ("openssl", "3.1.4-r1")
    rpm = Package("openssl-libs", "3.0.7", "rpm", epoch=1, release="24.el9")
    assert ecosystem_for(rpm, OSInfo("alma", "9.3")) == "AlmaLinux:9"
    assert match_name_version(rpm, "AlmaLinux:9") == ("openssl-libs", "1:3.0.7-24.el9")
    assert match_name_version(Package("Django_Rest.Framework", "3.0", "pypi"), "PyPI") == ("django-rest-framework", "3.0")
    assert match_name_version(Package("golang.org/x/net", "v0.10.0", "golang"), "Go") == ("golang.org/x/net", "0.10.0")
    assert match_name_version(Package("stdlib", "go1.21.3", "golang"), "Go") == ("stdlib", "1.21.3")
    jar = Package("log4j-core", "2.14.1", "maven", metadata={"group_id": "org.apache.logging.log4j"})
    assert match_name_version(jar, "Maven") == ("org.apache.logging.log4j:log4j-core", "2.14.1")
    assert match_name_version(Package("Lodash", "4.17.15", "npm"), "npm") == ("lodash", "4.17.15")


def test_fast_finding_constructor_equals_the_dataclass() -> None:
    values = []
    for f in dataclasses.fields(Finding):
        if f.name == "kind":
            values.append(FindingKind.VULNERABILITY)
        elif f.name == "severity":
            values.append(Severity.HIGH)
        elif f.name == "layer":
            values.append(Layer(0, "sha256:x"))
        elif f.name == "package":
            values.append(Package("a", "1", "pypi"))
        elif f.name == "extra":
            values.append({"k": "v"})
        else:
            values.append(f"value-{f.name}")
    assert _new_finding(tuple(values)) == Finding(*values)
    with pytest.raises(ValueError):
        _new_finding(tuple(values[:-1]))  # a model change that breaks the positional layout fails loudly


def test_risk_orders_exploited_and_fixable_first() -> None:
    base = {"severity": Severity.HIGH, "cvss": 7.5, "epss": 0.01, "kev": False, "ransomware": False, "fixed": True}
    r = risk.score(**base)
    assert 0 < r < 100
    assert risk.score(**{**base, "kev": True}) > r
    assert risk.score(**{**base, "kev": True, "ransomware": True}) > risk.score(**{**base, "kev": True})
    assert risk.score(**{**base, "epss": 0.9}) > r
    assert risk.score(**{**base, "fixed": False}) < r
    assert risk.score(**{**base, "cvss": 9.8}) > r
    assert risk.score(**{**base, "cvss": None, "severity": Severity.CRITICAL}) > risk.score(
        **{**base, "cvss": None, "severity": Severity.LOW})
    assert risk.score(**base, malicious=True) == 100.0
    assert risk.score(severity=Severity.CRITICAL, cvss=10.0, epss=1.0, kev=True, ransomware=True, fixed=True) == 100.0


def test_template_builder_sets_every_field_by_name() -> None:
    from containerguard.detect.fast_construct import compile_builder
    from containerguard.detect.matcher import _HEAD, _TAIL, _build_finding

    pkg = Package("a", "1", "pypi")
    layer = Layer(1, "sha256:y")
    head = (FindingKind.MALICIOUS, "MAL-1", "bad", Severity.CRITICAL)
    tail = tuple(f"t-{n}" for n in _TAIL)
    got = _build_finding(head, "img", "p/a", layer, pkg, tail, {"e": 1})
    want = Finding(**dict(zip(_HEAD, head, strict=True)), target="img", path="p/a", line=None, layer=layer, package=pkg,
                   **dict(zip(_TAIL, tail, strict=True)), extra={"e": 1})
    assert got == want
    with pytest.raises(TypeError):
        compile_builder(Layer, ["x"], {"index": "x"})  # every field must be given
