"""Matching defects found by an adversarial review, each through `containerguard scan` against the full database
built from ../shared/vulndata (the real feeds): advisories whose SEMVER bounds GitHub wrote loosely (``1.90``,
``19.03.9``, ``3.0-beta1``) and Go binaries built by a pre-release toolchain (``go1.20rc1``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


def _scan(capsys: pytest.CaptureFixture[str], target: str, db: Path) -> dict:
    capsys.readouterr()
    assert main(["scan", target, "--db", str(db), "--scanners", "vuln", "-f", "json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def _bom(path: Path, purls: list[str]) -> Path:
    comps = [{"type": "library", "name": p.split("/")[-1].split("@")[0], "version": p.rsplit("@", 1)[1], "purl": p}
             for p in purls]
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": comps}))
    return path


def _hits(doc: dict, vid: str) -> dict[tuple[str, str], list[str]]:
    """(package name, version) -> fixed versions, for the findings carrying ``vid`` as id or alias."""
    return {(f["package"]["name"], f["package"]["version"]): f["fixed_versions"]
            for f in doc["findings"] if vid == f["id"] or vid in f["aliases"]}


# each: (purl, advisory, bound as the feed writes it, expected fixed versions or None when not affected)
LOOSE_BOUNDS = [
    # GHSA-gggm-66rh-pp98: npm directus SEMVER introduced "10.3", fixed "10.5.0"
    ("pkg:npm/directus@10.4.0", "GHSA-gggm-66rh-pp98", ["10.5.0"]),
    ("pkg:npm/directus@10.3.0", "GHSA-gggm-66rh-pp98", ["10.5.0"]),
    ("pkg:npm/directus@10.2.0", "GHSA-gggm-66rh-pp98", None),
    ("pkg:npm/directus@10.5.0", "GHSA-gggm-66rh-pp98", None),
    # GHSA-wxf3-4fvj-vqqx: npm @saltcorn/cli fixed "1.0"
    ("pkg:npm/%40saltcorn/cli@0.9.0", "GHSA-wxf3-4fvj-vqqx", ["1.0.0"]),
    ("pkg:npm/%40saltcorn/cli@1.0.0", "GHSA-wxf3-4fvj-vqqx", None),
    # GHSA-8m45-2rjm-j347: @solana/web3.js, one range per minor, some introduced as "1.90", "1.78"
    ("pkg:npm/%40solana/web3.js@1.90.1", "GHSA-8m45-2rjm-j347", ["1.90.2"]),
    ("pkg:npm/%40solana/web3.js@1.78.7", "GHSA-8m45-2rjm-j347", ["1.78.8"]),
    ("pkg:npm/%40solana/web3.js@1.78.8", "GHSA-8m45-2rjm-j347", None),
    # GHSA-98p4-xjmm-8mfh: crates.io gix fixed "0.62"
    ("pkg:cargo/gix@0.61.0", "GHSA-98p4-xjmm-8mfh", ["0.62.0"]),
    ("pkg:cargo/gix@0.62.0", "GHSA-98p4-xjmm-8mfh", None),
    # GHSA-6hwg-w5jg-9c6x: Go github.com/docker/docker fixed "19.03.9" (a leading zero)
    ("pkg:golang/github.com/docker/docker@v1.13.1", "GHSA-6hwg-w5jg-9c6x", ["19.3.9"]),
    ("pkg:golang/github.com/docker/docker@v20.10.0%2Bincompatible", "GHSA-6hwg-w5jg-9c6x", None),
    # GHSA-cmf4-h3xc-jw8w: Go grafana/pkg/web introduced "3.0-beta1"
    ("pkg:golang/github.com/grafana/grafana/pkg/web@v3.0.0-beta2", "GHSA-cmf4-h3xc-jw8w", ["7.5.15"]),
    ("pkg:golang/github.com/grafana/grafana/pkg/web@v2.6.0", "GHSA-cmf4-h3xc-jw8w", None),
]


def test_loose_semver_bounds_in_the_feeds_still_match(tmp_path: Path, db: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """GitHub writes some SEMVER bounds that are not SemVer; the whole affected entry used to be skipped at
    `db update` ("unparseable version"), so these packages were reported clean."""
    doc = _scan(capsys, f"sbom:{_bom(tmp_path / 'bom.json', [p for p, _a, _f in LOOSE_BOUNDS])}", db)
    for purl, vid, fixed in LOOSE_BOUNDS:
        got = {k: v for k, v in _hits(doc, vid).items() if purl.endswith("@" + k[1].replace("+", "%2B"))}
        if fixed is None:
            assert not got, (purl, vid, got)
        else:
            assert list(got.values()) == [fixed], (purl, vid, _hits(doc, vid))
    capsys.readouterr()
    assert main(["db", "status", "--db", str(db), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    skipped = {s["source"]: s["skipped"] for s in status["sources"]}
    assert skipped["osv/npm"] == 0 and skipped["osv/crates.io"] == 0


def _patched_go_binary(dest: Path, version: bytes) -> Path:
    """The app image's real Go binary with its build info saying it was built by toolchain ``version``
    (9 bytes long: the modinfo gives up one byte of a build setting, so the blob keeps its length)."""
    from tests.fixtures.app_image import app_sources

    data = bytearray(app_sources().go_app.read_bytes())
    i = data.find(b"\xff Go buildinf:")
    pos = i + 32
    assert data[pos] == 8 and data[pos + 1:pos + 9] == b"go1.19.8"
    mod_len = data[pos + 9] | (data[pos + 10] & 0x7F) << 7
    mod = bytes(data[pos + 11:pos + 11 + mod_len])
    assert b"build\tGOAMD64=v1\n" in mod and len(version) == 9
    mod = mod.replace(b"build\tGOAMD64=v1\n", b"build\tGOAMD64=1\n")
    n = len(mod)
    blob = bytes([9]) + version + bytes([(n & 0x7F) | 0x80, n >> 7]) + mod
    data[pos:pos + len(blob)] = blob
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    dest.chmod(0o755)
    return dest


@pytest.mark.skipif(not shutil.which("go"), reason="golang-go not installed (scripts/setup)")
def test_go_prerelease_toolchain_is_a_prerelease_of_the_stdlib(tmp_path: Path, db: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """go1.20rc1 comes before go1.20.0: GO-2023-2375 (stdlib, fixed in 1.20.0) affects it. The stdlib version used
    to be cut to v1.20, read as the 1.20.0 release, and the finding was missed."""
    binary = _patched_go_binary(tmp_path / "root" / "usr" / "local" / "bin" / "cg-goapp", b"go1.20rc1")
    oracle = subprocess.run(["go", "version", str(binary)], check=True, capture_output=True, text=True).stdout
    assert oracle.strip().endswith(": go1.20rc1")
    doc = _scan(capsys, f"dir:{tmp_path / 'root'}", db)
    std = [p for p in doc["packages"] if p["name"] == "stdlib"]
    assert [(p["version"], p["metadata"]["go_version"]) for p in std] == [("v1.20.0-rc.1", "go1.20rc1")]
    assert _hits(doc, "GO-2023-2375") == {("stdlib", "v1.20.0-rc.1"): ["1.20.0"]}
    # a later pre-release is past that fix
    _patched_go_binary(binary, b"go1.21rc2")
    doc = _scan(capsys, f"dir:{tmp_path / 'root'}", db)
    assert [p["version"] for p in doc["packages"] if p["name"] == "stdlib"] == ["v1.21.0-rc.2"]
    assert not _hits(doc, "GO-2023-2375")


def _copy_host_deb(root: Path, package: str) -> list[str]:
    """``package`` as this host's dpkg installed it (Debian 12): its status stanza, its ``info/*.list`` and its
    Python metadata files, copied into ``root``. Returns the copied metadata paths (relative)."""
    stanza = subprocess.run(["dpkg-query", "-s", package], check=True, capture_output=True, text=True).stdout
    listed = Path(f"/var/lib/dpkg/info/{package}.list").read_text()
    admin = root / "var" / "lib" / "dpkg"
    (admin / "info").mkdir(parents=True, exist_ok=True)
    with open(admin / "status", "a") as fh:
        fh.write(stanza.rstrip("\n") + "\n\n")
    (admin / "info" / f"{package}.list").write_text(listed)
    copied = []
    for line in listed.splitlines():
        src = Path(line)
        if ".dist-info/" in line and src.is_file() and not src.is_symlink():
            dst = root / line.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied.append(line.lstrip("/"))
    return copied


def test_python_package_installed_by_dpkg_is_reported_once(tmp_path: Path, db: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Debian's python3-pip ships pip-23.0.1.dist-info: that is the deb python3-pip (source python-pip, with
    Debian's fixes), not a second, PyPI pip 23.0.1 to match against PyPI advisories. A pip-installed copy
    elsewhere in the image stays a PyPI package."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')
    owned = _copy_host_deb(root, "python3-pip")
    assert any(p.endswith("pip-23.0.1.dist-info/METADATA") for p in owned)
    mine = root / "usr/local/lib/python3.11/dist-packages/pip-23.0.1.dist-info"
    mine.mkdir(parents=True)
    shutil.copy2(root / next(p for p in owned if p.endswith("/METADATA")), mine / "METADATA")
    doc = _scan(capsys, f"dir:{root}", db)
    got = sorted((p["type"], p["name"], p["locations"][0]) for p in doc["packages"])
    assert got == [("deb", "python3-pip", "var/lib/dpkg/status"),
                   ("pypi", "pip", "usr/local/lib/python3.11/dist-packages/pip-23.0.1.dist-info/METADATA")]
    pypi_paths = {f["path"] for f in doc["findings"] if f["package"]["type"] == "pypi"}
    assert pypi_paths == {"usr/local/lib/python3.11/dist-packages/pip-23.0.1.dist-info/METADATA"}


def test_python_package_installed_by_apk_is_reported_once(tmp_path: Path, db: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
    (root / "lib" / "apk" / "db").mkdir(parents=True)
    (root / "lib" / "apk" / "db" / "installed").write_text(
        "C:Q1abc=\nP:py3-yaml\nV:6.0.1-r1\nA:x86_64\no:py3-yaml\n"
        "F:usr/lib/python3.11/site-packages\nR:_yaml.so\n"
        "F:usr/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info\nR:METADATA\nR:RECORD\n\n"
        "C:Q1def=\nP:py3-urllib3\nV:1.26.18-r0\nA:noarch\no:py3-urllib3\n"
        "F:usr/lib/python3.11/site-packages/urllib3-1.26.18.egg-info\nR:PKG-INFO\n\n")
    for name, ver, meta in (("PyYAML", "6.0.1", "PyYAML-6.0.1.dist-info/METADATA"),
                            ("urllib3", "1.26.18", "urllib3-1.26.18.egg-info/PKG-INFO"),
                            ("urllib3", "1.24.1", "../../../local/lib/python3.11/site-packages/"
                                                  "urllib3-1.24.1.dist-info/METADATA")):
        f = root / "usr/lib/python3.11/site-packages" / meta
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n")
    doc = _scan(capsys, f"dir:{root}", db)
    got = sorted((p["type"], p["name"], p["version"]) for p in doc["packages"])
    assert got == [("apk", "py3-urllib3", "1.26.18-r0"), ("apk", "py3-yaml", "6.0.1-r1"), ("pypi", "urllib3", "1.24.1")]


def test_an_unreadable_range_bound_keeps_the_entrys_versions_list(tmp_path: Path, db: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """GHSA-jqqh-999x-w26w (buildbot) has one ECOSYSTEM range fixed at "0.7.11p3", which is not PEP 440, and lists
    124 affected versions beside it. The whole entry used to be skipped at `db update`; now only the range is,
    and the listed versions still match."""
    doc = _scan(capsys, f"sbom:{_bom(tmp_path / 'bom.json', ['pkg:pypi/buildbot@0.7.10', 'pkg:pypi/buildbot@0.7.5'])}",
                db)
    records = {(f["package"]["version"], r) for f in doc["findings"] for r in f["extra"]["records"]}
    assert ("0.7.10", "GHSA-jqqh-999x-w26w") in records
    assert ("0.7.5", "GHSA-jqqh-999x-w26w") not in records  # not listed, and its range could not be read


@pytest.mark.skipif(not shutil.which("go"), reason="golang-go not installed (scripts/setup)")
def test_go_binary_module_replaced_by_a_local_directory(tmp_path: Path, db: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`replace golang.org/x/net => ./net` puts `=> ./net (devel)` in the build info. That was reported as a package
    named "./net" at version "(devel)" (purl pkg:golang/./net@%28devel%29); now it is left out with a warning naming
    it, as the go.mod analyzer does with the same replace line."""
    import os

    from tests.fixtures import env
    from tests.fixtures.app_image import GO_MAIN, GO_XNET_SRC

    src = tmp_path / "src"
    for pkg in ("html", "html/atom"):
        (src / "net" / pkg).mkdir(parents=True)
        for f in (GO_XNET_SRC / pkg).glob("*.go"):
            if not f.name.endswith("_test.go"):
                shutil.copy2(f, src / "net" / pkg / f.name)
    (src / "net" / "go.mod").write_text("module golang.org/x/net\n\ngo 1.17\n")
    (src / "go.mod").write_text("module example.com/local\n\ngo 1.19\n\nrequire golang.org/x/net v0.7.0\n\n"
                                "replace golang.org/x/net => ./net\n")
    (src / "main.go").write_text(GO_MAIN)
    root = tmp_path / "root"
    out = root / "usr" / "local" / "bin" / "cg-local"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=src, check=True, capture_output=True,
                   env={**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0",
                        "GOCACHE": str(env.CACHE / "go-replace" / ".gocache"), "GOTOOLCHAIN": "local"})
    oracle = subprocess.run(["go", "version", "-m", str(out)], check=True, capture_output=True, text=True).stdout
    assert "=>\t./net\t(devel)" in oracle
    capsys.readouterr()
    assert main(["scan", f"dir:{root}", "--db", str(db), "--scanners", "vuln", "-f", "json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    go_version = "v" + oracle.split(": go", 1)[1].split()[0]
    assert sorted((p["name"], p["version"]) for p in doc["packages"]) == [("example.com/local", ""),
                                                                          ("stdlib", go_version)]
    assert "golang.org/x/net@v0.7.0 is replaced by the local directory ./net" in cap.err
    assert not [f for f in doc["findings"] if f["package"]["name"] != "stdlib"]


PY_RPM_SPEC = """\
Name: python3-cgreq
Version: 2.25.1
Release: 1.el9
Summary: a Python library as the distribution packages it
License: Apache-2.0
BuildArch: noarch
%description
test
%install
d=%{buildroot}/usr/lib/python3.9/site-packages/requests-2.25.1.dist-info
mkdir -p $d
printf 'Metadata-Version: 2.1\\nName: requests\\nVersion: 2.25.1\\n' > $d/METADATA
echo x > $d/RECORD
%files
/usr/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA
/usr/lib/python3.9/site-packages/requests-2.25.1.dist-info/RECORD
"""


@pytest.mark.skipif(not shutil.which("rpmbuild"), reason="Debian package rpm not installed (scripts/setup)")
def test_python_package_installed_by_rpm_is_reported_once(tmp_path: Path, db: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A real rpm (rpmbuild, installed into a real rpmdb.sqlite with `rpm -i --justdb`) owning a dist-info: the rpm is
    reported, not a second PyPI package read from the file it installed; a pip-installed copy elsewhere is."""
    top = tmp_path / "rpm"
    top.mkdir()
    (top / "p.spec").write_text(PY_RPM_SPEC)
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}/build", str(top / "p.spec")], check=True,
                   capture_output=True)
    root = tmp_path / "root"
    dbdir = root / "usr/lib/sysimage/rpm"
    subprocess.run(["rpm", "--initdb", "--dbpath", str(dbdir)], check=True, capture_output=True)
    rpms = [str(p) for p in (top / "build" / "RPMS").rglob("*.rpm")]
    subprocess.run(["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(dbdir), *rpms], check=True, capture_output=True)
    for p in dbdir.iterdir():
        if p.name != "rpmdb.sqlite":
            p.unlink()
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\n')
    for meta in ("usr/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA",
                 "usr/local/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA"):
        (root / meta).parent.mkdir(parents=True)
        (root / meta).write_text("Metadata-Version: 2.1\nName: requests\nVersion: 2.25.1\n")
    doc = _scan(capsys, f"dir:{root}", db)
    assert sorted((p["type"], p["name"], p["locations"][0]) for p in doc["packages"]) == [
        ("pypi", "requests", "usr/local/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA"),
        ("rpm", "python3-cgreq", "usr/lib/sysimage/rpm/rpmdb.sqlite")]
    assert {f["path"] for f in doc["findings"]} == {
        "usr/local/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA"}


def test_merged_advisories_report_the_version_that_fixes_them_all(tmp_path: Path, db: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The feed aliases GHSA-q7rv-6hp3-vh96 (guzzlehttp/psr7 fixed 1.8.4 / 2.1.1) with GHSA-wxmh-65f7-jcvw (fixed
    1.9.1 / 2.4.5): one finding, whose fix used to read "1.8.4, 1.9.1" although 1.8.4 leaves GHSA-wxmh open."""
    vendor = tmp_path / "app" / "vendor" / "composer"
    vendor.mkdir(parents=True)
    (vendor / "installed.json").write_text(json.dumps({"packages": [
        {"name": "guzzlehttp/psr7", "version": "1.4.0"}, {"name": "guzzlehttp/psr7", "version": "2.1.0"},
        {"name": "guzzlehttp/psr7", "version": "1.8.5"}]}))
    doc = _scan(capsys, f"dir:{tmp_path / 'app'}", db)
    assert _hits(doc, "GHSA-wxmh-65f7-jcvw") == {("guzzlehttp/psr7", "1.4.0"): ["1.9.1"],
                                                 ("guzzlehttp/psr7", "2.1.0"): ["2.4.5"],
                                                 ("guzzlehttp/psr7", "1.8.5"): ["1.9.1"]}
    records = {f["package"]["version"]: f["extra"]["records"] for f in doc["findings"]
               if "GHSA-wxmh-65f7-jcvw" in f["extra"]["records"]}
    # 1.8.5 is past GHSA-q7rv's fix but still in GHSA-wxmh's range: matched by that record alone
    assert records == {"1.4.0": ["GHSA-q7rv-6hp3-vh96", "GHSA-wxmh-65f7-jcvw"],
                       "2.1.0": ["GHSA-q7rv-6hp3-vh96", "GHSA-wxmh-65f7-jcvw"], "1.8.5": ["GHSA-wxmh-65f7-jcvw"]}
