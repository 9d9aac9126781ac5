"""The feed parsers on crafted input: what is kept, what is skipped and how it is counted."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from containerguard.model import Severity
from containerguard.vulndb import normalize
from containerguard.vulndb.severity import band, best_vector, score_vector
from containerguard.vulndb.sources import PARSERS, SourceCorrupt, SourceSpec, SourceStats
from containerguard.vulndb.sources.base import VersionCheck


class Sink:
    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("advisory", "affected", "alias", "kev", "epss")}

    def __getattr__(self, name: str):
        return self.rows[name].append


def run(kind: str, path: Path, param: str = "") -> tuple[Sink, SourceStats]:
    sink, stats = Sink(), SourceStats()
    PARSERS[kind](SourceSpec(f"{kind}/x", kind, "http://x", param), path, sink, stats, VersionCheck())
    return sink, stats


def test_names_and_ecosystems() -> None:
    assert normalize.package_name("PyPI", "Zope.Interface_X") == "zope-interface-x"
    assert normalize.package_name("crates.io", "Serde_JSON") == "serde-json"
    assert normalize.package_name("Go", "github.com/Foo/Bar") == "github.com/Foo/Bar"
    assert normalize.package_name("Maven", "Org.Foo:Bar") == "org.foo:bar"
    assert normalize.ecosystem("Ubuntu:22.04:LTS") == "Ubuntu:22.04"
    assert normalize.is_distro("Debian:12") and not normalize.is_distro("PyPI")


def _zip(tmp: Path, recs: list[dict]) -> Path:
    p = tmp / "all.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for r in recs:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return p


def test_osv_records(tmp_path: Path) -> None:
    recs = [
        {"id": "GHSA-1", "modified": "m", "aliases": ["CVE-1"], "database_specific": {"severity": "HIGH"},
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
         "affected": [{"package": {"ecosystem": "PyPI", "name": "Foo_Bar"}, "versions": ["1.0"],
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]},
                                  {"type": "GIT", "repo": "r", "events": [{"introduced": "abc"}]}]},
                      {"package": {}, "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "abc"}]}]}]},
        {"id": "DSA-1", "modified": "m", "affected": [
            {"package": {"ecosystem": "Debian:12", "name": "curl"}, "versions": ["7.0-1"],
             "ecosystem_specific": {"urgency": "high"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.1-1"}]}]}]},
        {"id": "GHSA-2", "modified": "m", "withdrawn": "2024-01-01", "affected": [
            {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]},
    ]
    sink, stats = run("osv", _zip(tmp_path, recs))
    assert stats.records == 3 and stats.skipped == 0 and stats.withdrawn == 1
    aff = {r[3]: r for r in sink.rows["affected"]}
    assert set(aff) == {"GHSA-1", "DSA-1"}  # withdrawn: advisory kept by id, nothing to match
    assert aff["GHSA-1"][1:3] == ("PyPI", "foo-bar")
    assert json.loads(aff["GHSA-1"][4]) == [["E", [["i", "0"], ["f", "1.1"]]]]  # GIT range dropped
    assert json.loads(aff["GHSA-1"][5]) == ["1.0"]
    assert aff["DSA-1"][5] is None and aff["DSA-1"][6] == "high"  # distro: versions list not stored
    adv = {r[1]: r for r in sink.rows["advisory"]}
    assert adv["GHSA-1"][5].startswith("CVSS:3.1") and adv["GHSA-1"][6] == 9.8 and adv["GHSA-1"][7] == "HIGH"
    assert ("osv/x", "CVE-1", "GHSA-1") in sink.rows["alias"]


def test_osv_unreadable_zip_raises(tmp_path: Path) -> None:
    p = tmp_path / "all.zip"
    p.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SourceCorrupt):
        run("osv", p)


def test_alpine_secdb(tmp_path: Path) -> None:
    doc = {"packages": [
        {"pkg": {"name": "openssl", "secfixes": {"0": ["CVE-2000-1"], "3.1.4-r1": ["CVE-2023-5 ALPINE-9"],
                                                 "bogus version!": ["CVE-2023-6"]}}},
        {"pkg": {"nope": 1}}]}
    p = tmp_path / "main.json"
    p.write_text(json.dumps(doc))
    sink, stats = run("alpine", p, "v3.19")
    assert [(r[1], r[2], r[3]) for r in sink.rows["affected"]] == [("Alpine:v3.19", "openssl", "CVE-2023-5")]
    assert ("alpine/x", "ALPINE-9", "CVE-2023-5") in sink.rows["alias"]
    assert stats.reasons == {"unparseable version": 1, "secdb schema": 1}
    assert stats.records == 2  # the "0" (never affected) entry and the real fix


def test_kev_and_epss(tmp_path: Path) -> None:
    k = tmp_path / "kev.json"
    k.write_text(json.dumps({"vulnerabilities": [
        {"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10", "knownRansomwareCampaignUse": "Known"},
        {"cveID": 5}]}))
    sink, stats = run("kev", k)
    assert sink.rows["kev"][0][1:4] == ("CVE-2021-44228", "2021-12-10", 1) and stats.skipped == 1
    e = tmp_path / "epss.csv.gz"
    e.write_bytes(gzip.compress(b"#model_version:v1\ncve,epss,percentile\nCVE-1,0.5,0.9\nCVE-2,abc,0.1\nCVE-3,2,0.1\n"))
    sink, stats = run("epss", e)
    assert sink.rows["epss"] == [("epss/x", "CVE-1", 0.5, 0.9)] and stats.skipped == 2
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(SourceCorrupt):
        run("epss", tmp_path / "bad.gz")


def test_cvss_scoring() -> None:
    assert score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert score_vector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") == 9.3
    assert score_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5
    assert score_vector("CVSS:3.1/garbage") is None
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    assert best_vector([("CVSS_V4", v4), ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N")])[1] == 5.3
    assert best_vector([("CVSS_V4", v4)]) == (v4, 9.3)
    assert band(9.8) is Severity.CRITICAL and band(5.3) is Severity.MEDIUM and band(None) is Severity.UNKNOWN


def test_fast_member_reader_equals_zipfile(tmp_path: Path) -> None:
    from tests.fixtures.env import VULNDATA

    from containerguard.vulndb.sources import osv

    real = VULNDATA / "osv" / "Pub" / "all.zip"
    made = tmp_path / "mixed.zip"
    with zipfile.ZipFile(made, "w") as zf:
        zf.writestr("a.json", b'{"id": "A"}', compress_type=zipfile.ZIP_STORED)
        zf.writestr("b.json", b'{"id": "B"}' * 100, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("c.json", b'{"id": "C"}', compress_type=zipfile.ZIP_BZIP2)  # not handled: falls back
    for p in (real, made):
        with zipfile.ZipFile(p) as zf, open(p, "rb") as fh:
            for info in zf.infolist():
                got = osv._member(fh, info)
                assert got is None if info.compress_type == zipfile.ZIP_BZIP2 else got == zf.read(info)
