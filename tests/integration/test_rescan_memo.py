"""Rescans reuse one database handle: what the matcher memoises per handle (resolved packages, finding
templates, foreign flags) must never change a result. Real database built from ../shared/vulndata."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.detect import Matcher
from containerguard.model import Inventory, OSInfo, Package
from containerguard.vulndb import VulnDB

DEBIAN = OSInfo(family="debian", version="12", name="Debian GNU/Linux 12 (bookworm)")
UBUNTU = OSInfo(family="ubuntu", version="22.04", name="Ubuntu 22.04")


@pytest.fixture(scope="module")
def db_path() -> Path:
    return vulnmirror.built_db()


def _inv(target: str, os_info: OSInfo, *pkgs: Package) -> Inventory:
    return Inventory(target=target, os=os_info, packages=pkgs)


def _ids(inv: Inventory, m: Matcher) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in m.match(inv).findings:
        assert f.package is not None
        out.setdefault(f.package.name, set()).update({f.id, *f.aliases})
    return out


def test_maven_group_from_metadata_is_not_memoised_away(db_path: Path) -> None:
    log4j = Package("log4j-core", "2.14.1", "maven", metadata={"group_id": "org.apache.logging.log4j"})
    other = Package("log4j-core", "2.14.1", "maven", metadata={"group_id": "com.example.fork"})
    with VulnDB(db_path) as db:
        m = Matcher(db)
        for _ in range(2):  # cold, then warm
            assert "CVE-2021-44228" in _ids(_inv("a", DEBIAN, log4j), m)["log4j-core"]
            assert _ids(_inv("b", DEBIAN, other), m) == {}


def test_same_package_on_another_os_is_matched_against_that_os(db_path: Path) -> None:
    curl = Package("curl", "7.88.1-10+deb12u1", "deb", source_name="curl", source_version="7.88.1-10+deb12u1")
    with VulnDB(db_path) as db:
        m = Matcher(db)
        deb = m.match(_inv("d", DEBIAN, curl))
        assert any(f.id == "CVE-2023-38545" or "CVE-2023-38545" in f.aliases for f in deb.findings)
        assert {f.extra["ecosystem"] for f in deb.findings} == {"Debian:12"}
        ubu = m.match(_inv("u", UBUNTU, curl))
        assert {f.extra["ecosystem"] for f in ubu.findings} <= {"Ubuntu:22.04"}
        unknown = m.match(_inv("x", OSInfo(family="unknown"), curl))
        assert unknown.findings == [] and unknown.stats.unsupported == 1
        assert any("OS packages not matched" in w for w in unknown.warnings)


def test_warm_results_equal_a_fresh_handle_and_carry_their_own_target(db_path: Path) -> None:
    pkgs = (
        Package("curl", "7.88.1-10+deb12u1", "deb", source_name="curl", source_version="7.88.1-10+deb12u1",
                locations=("var/lib/dpkg/status",)),
        Package("curl", "7.88.1-10~bpo11+1", "deb", source_name="curl", source_version="7.88.1-10~bpo11+1"),
        Package("lodash", "4.17.15", "npm", locations=("app/node_modules/lodash/package.json",)),
        Package("django", "2.0", "pypi"),
        Package("golang.org/x/net", "v0.16.0", "golang"),
        Package("django", "not a version", "pypi"),
    )
    with VulnDB(db_path) as warm_db:
        m = Matcher(warm_db)
        m.match(_inv("first", DEBIAN, *pkgs))
        warm = m.match(_inv("second", DEBIAN, *reversed(pkgs)))
    with VulnDB(db_path) as fresh_db:
        fresh = Matcher(fresh_db).match(_inv("second", DEBIAN, *reversed(pkgs)))
    assert warm.findings == fresh.findings
    assert [f.extra for f in warm.findings] == [f.extra for f in fresh.findings]
    assert warm.warnings == fresh.warnings and warm.stats == fresh.stats
    assert {f.target for f in warm.findings} == {"second"}
    assert any(f.id == "GHSA-p6mc-m468-83gw" or "GHSA-p6mc-m468-83gw" in f.aliases for f in warm.findings)
    by_version = {f.package.version: bool(f.extra.get("not_from_distribution")) for f in warm.findings
                  if f.package is not None and f.package.type == "deb"}
    assert by_version == {"7.88.1-10+deb12u1": False, "7.88.1-10~bpo11+1": True}
    lodash = [f for f in warm.findings if f.package is not None and f.package.name == "lodash"]
    assert lodash and {f.path for f in lodash} == {"app/node_modules/lodash/package.json"}
