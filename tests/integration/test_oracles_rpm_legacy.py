"""The rpm analyzer on the two older rpm databases, against rpm 4.18 itself (Debian's rpm package).

BerkeleyDB ``Packages``: real header blobs (from an rpmdb.sqlite written by ``rpm -i --justdb`` from
packages built here with rpmbuild, one of them with 3,000 files so its header spans overflow pages) are
loaded into a real Berkeley DB hash file with Debian's ``db5.3_load`` (db5.3-util), keyed the way rpm keys
them (4-byte package number, plus rpm's key-0 counter record). The oracle is rpm reading that file with
its read-only ``bdb_ro`` backend: ``rpm -qa`` must list exactly what we list.

NDB ``Packages.db``: Debian's rpm is built without the ndb backend (``rpm --define '_db_backend ndb'``
says "invalid %_db_backend: ndb"), so no tool here writes or reads one; the NDB reader is covered by the
unit tests in tests/unit/analyzer/test_rpm_legacy.py on files laid out per rpm's rpmpkg.c.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest
from tests.integration import test_oracles_rpm

from containerguard.analyzer.base import AnalysisResult, AnalyzerInput
from containerguard.analyzer.rpm import RpmAnalyzer
from containerguard.cli.main import main

rpmdb = test_oracles_rpm.rpmdb  # that module's fixture (3 real packages in an rpmdb.sqlite), reused

pytestmark = pytest.mark.skipif(not (shutil.which("rpmbuild") and shutil.which("db5.3_load")),
                                reason="Debian packages rpm and db5.3-util not installed (scripts/setup)")

BIG_SPEC = """\
Name: cg-big
Version: 3.0
Release: 7.el7
Summary: a package with 3000 files, so its header is far larger than a BerkeleyDB page
License: GPLv2+
BuildArch: noarch
%description
big
%install
mkdir -p %{buildroot}/usr/share/cg-big
for i in $(seq 1 3000); do : > %{buildroot}/usr/share/cg-big/file-with-a-fairly-long-name-number-$i.txt; done
%files
/usr/share/cg-big
"""
QF = "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\\n"


@pytest.fixture(scope="module")
def blobs(rpmdb: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, bytes]]:
    """(package number, header blob) of four real packages as rpm 4.18 stored them: the three of
    test_oracles_rpm's rpmdb plus cg-big, built and installed here into a copy of that database."""
    top = tmp_path_factory.mktemp("rpmlegacy")
    (top / "cg-big.spec").write_text(BIG_SPEC)
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}/build", str(top / "cg-big.spec")],
                   check=True, capture_output=True)
    db = top / "db"
    shutil.copytree(rpmdb, db)
    (big_rpm,) = (top / "build" / "RPMS").rglob("cg-big-*.rpm")
    subprocess.run(["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), str(big_rpm)], check=True,
                   capture_output=True)
    con = sqlite3.connect(f"file:{db / 'rpmdb.sqlite'}?mode=ro", uri=True)
    rows = [(int(h), bytes(b)) for h, b in con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    con.close()
    assert len(rows) == 4
    assert max(len(b) for _, b in rows) > 65536 * 4
    return rows


def make_bdb(rows: list[tuple[int, bytes]], dest: Path, pagesize: int, order: str = "<") -> Path:
    """A real Berkeley DB hash file holding the rows the way rpm keys its Packages database (4-byte
    package numbers in the machine's byte order; ``order`` ">" makes the file a big-endian machine's)."""
    dest.mkdir(parents=True, exist_ok=True)
    dump = dest / "Packages.dump"
    lorder = 1234 if order == "<" else 4321
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}", f"db_lorder={lorder}",
             "HEADER=END",
             " " + struct.pack(order + "I", 0).hex(), " " + struct.pack(order + "I", max(h for h, _ in rows) + 1).hex()]
    for hnum, blob in rows:
        lines += [" " + struct.pack(order + "I", hnum).hex(), " " + blob.hex()]
    dump.write_text("\n".join([*lines, "DATA=END", ""]))
    out = dest / "Packages"
    out.unlink(missing_ok=True)
    subprocess.run(["db5.3_load", "-f", str(dump), str(out)], check=True, capture_output=True)
    dump.unlink()
    return out


def rpm_qa(dbdir: Path) -> set[str]:
    out = subprocess.run(["rpm", "--dbpath", str(dbdir), "--define", "_db_backend bdb_ro", "-qa", "--qf", QF],
                         check=True, capture_output=True, text=True).stdout
    return set(out.splitlines())


def analyze(path: Path) -> AnalysisResult:
    with open(path, "rb") as fh:
        return RpmAnalyzer().analyze(AnalyzerInput(path="var/lib/rpm/Packages", size=path.stat().st_size,
                                                   mode=0o100644, stream=fh))


def ours(result: AnalysisResult) -> set[str]:
    return {f"{p.name} {p.epoch or 0}:{p.version} {p.arch} {p.metadata['source_rpm']}" for p in result.packages}


def value_kinds(path: Path, pagesize: int, order: str) -> set[int]:
    """The kinds of the value items on the hash pages: 1 inline (H_KEYDATA), 3 on overflow pages (H_OFFPAGE)."""
    data = path.read_bytes()
    kinds = set()
    for off in range(pagesize, len(data), pagesize):
        if data[off + 25] in (2, 13):
            n = struct.unpack_from(order + "H", data, off + 20)[0]
            kinds |= {data[off + o] for o in struct.unpack_from(f"{order}{n}H", data, off + 26)[1::2]}
    return kinds


@pytest.mark.parametrize(("pagesize", "order"), [(4096, "<"), (65536, "<"), (8192, ">")])
def test_bdb_inventory_equals_rpm_qa(blobs: list[tuple[int, bytes]], tmp_path: Path, pagesize: int,
                                     order: str) -> None:
    packages = make_bdb(blobs, tmp_path / "db", pagesize, order)
    kinds = value_kinds(packages, pagesize, order)
    assert 3 in kinds  # the headers really lie on overflow pages
    if pagesize == 65536:
        assert 1 in kinds  # and the small ones inline
    expected = rpm_qa(packages.parent)
    assert len(expected) == 4 and any(line.startswith("cg-big 0:3.0-7.el7 ") for line in expected)
    result = analyze(packages)
    assert result.warnings == []
    assert ours(result) == expected
    data = next(p for p in result.packages if p.name == "cg-hello-data")
    assert (data.epoch, data.source_name, data.source_version) == (2, "cg-hello", "1.2.3-4.cg1")


def test_truncated_bdb_lists_what_is_left_with_a_warning(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    packages = make_bdb(blobs, tmp_path / "db", 4096)
    data = packages.read_bytes()
    for cut in (len(data) // 2, len(data) - 4096, 600, 20):
        packages.write_bytes(data[:cut])
        result = analyze(packages)
        assert result.warnings, cut
        assert all("BerkeleyDB" in w for w in result.warnings)
        assert len(result.packages) < 4
        assert ours(result) <= rpm_qa_full(blobs, tmp_path)


_FULL: dict[str, set[str]] = {}


def rpm_qa_full(blobs: list[tuple[int, bytes]], tmp_path: Path) -> set[str]:
    if "x" not in _FULL:
        _FULL["x"] = rpm_qa(make_bdb(blobs, tmp_path / "full", 4096).parent)
    return _FULL["x"]


def test_corrupt_bdb_pages_are_counted_warnings(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    """Every page's item offsets and the overflow chain links overwritten: warnings, no exception."""
    packages = make_bdb(blobs, tmp_path / "db", 4096)
    data = bytearray(packages.read_bytes())
    for off in range(4096, len(data), 4096):
        if data[off + 25] in (2, 13):  # hash page: point its first item past the page end
            data[off + 26:off + 28] = b"\xff\x7f"
        elif data[off + 25] == 7 and off // 4096 % 5 == 0:  # some overflow pages: loop the chain to itself
            data[off + 16:off + 20] = struct.pack("<I", off // 4096)
    packages.write_bytes(bytes(data))
    result = analyze(packages)
    assert result.warnings and len(result.warnings) <= 51
    assert result.packages == [] or ours(result) <= rpm_qa_full(blobs, tmp_path)


def test_sbom_cli_on_centos7_root(blobs: list[tuple[int, bytes]], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``containerguard sbom dir:ROOT --format json`` on a CentOS 7 shaped root with a BerkeleyDB rpmdb."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
        'PRETTY_NAME="CentOS Linux 7 (Core)"\nCPE_NAME="cpe:/o:centos:centos:7"\n')
    (root / "etc/centos-release").write_text("CentOS Linux release 7.9.2009 (Core)\n")
    packages = make_bdb(blobs, root / "var/lib/rpm", 4096)
    expected = rpm_qa(packages.parent)
    assert main(["sbom", f"dir:{root}", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rpms = [p for p in doc["packages"] if p["type"] == "rpm"]
    got = {f"{p['name']} {p.get('epoch') or 0}:{p['version']} {p['arch']} {p['metadata']['source_rpm']}"
           for p in rpms}
    assert got == expected
    assert doc["os"]["family"] == "centos"
    big = next(p for p in rpms if p["name"] == "cg-big")
    assert big["purl"].startswith("pkg:rpm/centos/cg-big@3.0-7.el7?")
    assert "var/lib/rpm/Packages" in big["locations"][0]
