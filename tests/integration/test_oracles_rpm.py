"""The rpm analyzer against ``rpm -qa`` on a real rpmdb.sqlite written by rpm 4.18 (Debian's rpm package):
packages built with rpmbuild (one with an Epoch, a subpackage whose source rpm has another name, an arch
package and a noarch one) and installed with ``rpm -i --justdb``."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from packageurl import PackageURL

from containerguard.analyzer.base import AnalyzerInput
from containerguard.analyzer.rpm import RpmAnalyzer
from containerguard.errors import AnalyzerError

pytestmark = pytest.mark.skipif(not shutil.which("rpmbuild"), reason="Debian package rpm not installed (scripts/setup)")

SPECS = {
    "cg-hello": """\
Name: cg-hello
Version: 1.2.3
Release: 4.cg1
Epoch: 2
Summary: test package with an epoch and a subpackage
License: MIT
BuildArch: noarch
%description
test
%package -n cg-hello-data
Summary: subpackage built from the cg-hello source rpm
%description -n cg-hello-data
data
%install
mkdir -p %{buildroot}/usr/share/cg-hello
echo hi > %{buildroot}/usr/share/cg-hello/hello.txt
echo data > %{buildroot}/usr/share/cg-hello/data.txt
%files
/usr/share/cg-hello/hello.txt
%files -n cg-hello-data
/usr/share/cg-hello/data.txt
""",
    "cg-tool": """\
Name: cg-tool
Version: 0.9
Release: 1
Summary: arch-specific test package without an epoch
License: Apache-2.0 AND MIT
%global debug_package %{nil}
%description
test
%install
mkdir -p %{buildroot}/usr/lib/cg-tool
echo x > %{buildroot}/usr/lib/cg-tool/x
%files
/usr/lib/cg-tool/x
""",
}

QF = "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{LICENSE}\\n"


@pytest.fixture(scope="module")
def rpmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("rpm")
    for name, spec in SPECS.items():
        (top / f"{name}.spec").write_text(spec)
        subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}/build", str(top / f"{name}.spec")],
                       check=True, capture_output=True)
    db = top / "db"
    subprocess.run(["rpm", "--initdb", "--dbpath", str(db)], check=True, capture_output=True)
    rpms = sorted(str(p) for p in (top / "build" / "RPMS").rglob("*.rpm"))
    assert len(rpms) == 3
    subprocess.run(["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *rpms], check=True, capture_output=True)
    return db


def _analyze(path: Path, image_path: str = "var/lib/rpm/rpmdb.sqlite"):  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        return RpmAnalyzer().analyze(AnalyzerInput(path=image_path, size=path.stat().st_size, mode=0o100644, stream=fh))


def test_rpm_equals_rpm_qa(rpmdb: Path) -> None:
    out = subprocess.run(["rpm", "-qa", "--dbpath", str(rpmdb), "--qf", QF], check=True, capture_output=True,
                         text=True).stdout
    expected = set()
    for line in out.splitlines():
        name, epoch, version, release, arch, srpm, lic = line.split("|")
        expected.add((name, None if epoch == "(none)" else int(epoch), f"{version}-{release}", release, arch, srpm, lic))
    assert len(expected) == 3
    result = _analyze(rpmdb / "rpmdb.sqlite")
    assert result.warnings == []
    got = {(p.name, p.epoch, p.version, p.release, p.arch, p.metadata["source_rpm"], p.licenses[0])
           for p in result.packages}
    assert got == expected
    data = next(p for p in result.packages if p.name == "cg-hello-data")
    assert (data.source_name, data.source_version) == ("cg-hello", "1.2.3-4.cg1")
    purl = PackageURL.from_string(data.purl)
    assert (purl.type, purl.name, purl.version) == ("rpm", "cg-hello-data", "1.2.3-4.cg1")
    assert purl.qualifiers == {"arch": "noarch", "epoch": "2"}
    tool = next(p for p in result.packages if p.name == "cg-tool")
    assert tool.epoch is None and "epoch" not in tool.purl


def test_rpmdb_in_usr_lib_sysimage_is_required(rpmdb: Path) -> None:
    a = RpmAnalyzer()
    assert a.required("usr/lib/sysimage/rpm/rpmdb.sqlite", 0o100644)
    assert a.required("var/lib/rpm/rpmdb.sqlite", 0o100644)
    assert not a.required("var/lib/rpm/rpmdb.sqlite-wal", 0o100644)


def test_corrupt_header_is_a_counted_warning(rpmdb: Path, tmp_path: Path) -> None:
    import sqlite3

    copy = tmp_path / "rpmdb.sqlite"
    con = sqlite3.connect(rpmdb / "rpmdb.sqlite")
    con.execute(f"VACUUM INTO '{copy}'")
    con.close()
    con = sqlite3.connect(copy)
    hnum = con.execute("SELECT hnum FROM Packages LIMIT 1").fetchone()[0]
    con.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (b"\x00\x00\xff\xff\x00\x00\x00\x10garbage", hnum))
    con.commit()
    con.close()
    result = _analyze(copy)
    assert len(result.packages) == 2
    assert len(result.warnings) == 1 and "header" in result.warnings[0]


def test_not_sqlite_and_berkeleydb(tmp_path: Path) -> None:
    junk = tmp_path / "rpmdb.sqlite"
    junk.write_bytes(b"not a database" * 10)
    with pytest.raises(AnalyzerError, match="not an SQLite database"):
        _analyze(junk)
    bdb = tmp_path / "Packages"
    bdb.write_bytes(b"\x00" * 64)
    result = _analyze(bdb, "var/lib/rpm/Packages")
    assert result.packages == [] and "BerkeleyDB" in result.warnings[0]


def test_mutated_real_headers_never_raise_unexpected(rpmdb: Path) -> None:
    """parse_header on corrupted copies of real header blobs: a HeaderError or a parse, nothing else."""
    import random
    import sqlite3

    from containerguard.analyzer.rpm import HeaderError, parse_header

    con = sqlite3.connect(f"file:{rpmdb / 'rpmdb.sqlite'}?mode=ro", uri=True)
    blobs = [bytes(b) for (b,) in con.execute("SELECT blob FROM Packages")]
    con.close()
    rng = random.Random(1234)
    for _ in range(3000):
        data = bytearray(rng.choice(blobs))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(min(len(data), 400) if rng.random() < 0.7 else len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)):]
        with contextlib.suppress(HeaderError):
            parse_header(bytes(data))


def test_rpm_root_through_build_inventory(rpmdb: Path, tmp_path: Path) -> None:
    """A Rocky-style root (os-release + usr/lib/sysimage/rpm/rpmdb.sqlite) through ``dir:``: the OS and
    the distribution part of the rpm purls come out right."""
    from containerguard.scanner import inventory
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\n'
                                          'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n')
    (root / "etc/redhat-release").write_text("Rocky Linux release 9.3 (Blue Onyx)\n")
    db = root / "usr/lib/sysimage/rpm"
    db.mkdir(parents=True)
    shutil.copy2(rpmdb / "rpmdb.sqlite", db / "rpmdb.sqlite")
    inv = inventory.build_inventory(f"dir:{root}", cache=None)
    assert (inv.os.family, inv.os.version) == ("rocky", "9.3")
    rpms = {p.name: p for p in inv.packages if p.type == "rpm"}
    assert set(rpms) == {"cg-hello", "cg-hello-data", "cg-tool"}
    purl = PackageURL.from_string(rpms["cg-hello"].purl)
    assert (purl.namespace, purl.qualifiers.get("distro"), purl.qualifiers.get("epoch")) == ("rocky", "rocky-9.3", "2")
