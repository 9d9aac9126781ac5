"""An image with rpmdb.sqlite and a left-over legacy rpm database lists each package once, from sqlite."""

from __future__ import annotations

from containerguard.model import OSInfo, Package
from containerguard.scanner.finalize import finalize


def _rpm(name: str, loc: str) -> Package:
    return Package(name=name, version="1.0-1", type="rpm", purl=f"pkg:rpm/redhat/{name}@1.0-1",
                   locations=(loc,), analyzer="rpm")


def test_sqlite_wins_over_a_stale_berkeleydb_copy() -> None:
    pkgs = [_rpm("bash", "var/lib/rpm/rpmdb.sqlite"), _rpm("bash", "var/lib/rpm/Packages"),
            _rpm("old-only", "var/lib/rpm/Packages"), _rpm("zlib", "usr/lib/sysimage/rpm/Packages.db")]
    _, out = finalize(OSInfo(family="rocky", version="9.3"), pkgs)
    assert [(p.name, p.locations) for p in out] == [("bash", ("var/lib/rpm/rpmdb.sqlite",))]


def test_legacy_database_alone_is_kept() -> None:
    pkgs = [_rpm("bash", "var/lib/rpm/Packages"), _rpm("zlib", "var/lib/rpm/Packages")]
    _, out = finalize(OSInfo(family="centos", version="7"), pkgs)
    assert sorted(p.name for p in out) == ["bash", "zlib"]
    assert all(p.purl.startswith("pkg:rpm/centos/") for p in out)
