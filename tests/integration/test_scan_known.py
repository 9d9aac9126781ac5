"""`containerguard scan` end to end against the full database built from ../shared/vulndata: the issue's
known cases, exit codes, SBOM input and rescans of stored inventories."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main
from containerguard.scanner import rescan
from containerguard.vulndb import VulnDB

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


def _status_entry(name: str, version: str, source: str = "") -> str:
    src = f"Source: {source}\n" if source else ""
    return (f"Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: web\nInstalled-Size: 500\n"
            f"Maintainer: Alessandro Ghedini <ghedo@debian.org>\nArchitecture: amd64\n{src}Version: {version}\n"
            f"Description: test entry\n\n")


def _debian_dir(root: Path, entries: str) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(OS_RELEASE)
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text(entries)
    return root


def _scan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["scan", *args, "-f", "json", "-q"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def _ids(f: dict) -> set[str]:
    return {f["id"], *f["aliases"]}


def _find(doc: dict, vid: str, pkg: str | None = None) -> list[dict]:
    return [f for f in doc["findings"] if vid in _ids(f) and (pkg is None or f["package"]["name"] == pkg)]


def test_curl_below_fix_gives_cve_2023_38545(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _debian_dir(tmp_path / "root", _status_entry("curl", "7.88.1-10+deb12u3")
                       + _status_entry("libcurl4", "7.88.1-10+deb12u3", "curl"))
    rc, doc = _scan_json(capsys, f"dir:{root}", "--db", str(db))
    assert rc == 0
    for pkg in ("curl", "libcurl4"):  # the binary package built from source curl
        (f,) = _find(doc, "CVE-2023-38545", pkg)
        assert f["id"] == "CVE-2023-38545"
        assert "DSA-5523-1" in f["aliases"]
        assert f["fixed_versions"] == ["7.88.1-10+deb12u4"]
        assert f["status"] == "fixed"
        assert f["severity"].upper() == "CRITICAL" and f["cvss_score"] == 9.8 and f["severity_source"] == "cvss"
        assert f["extra"]["ecosystem"] == "Debian:12"
        assert not f["extra"].get("not_from_distribution")
    # ordered by risk, highest first
    risks = [f["risk"] for f in doc["findings"]]
    assert risks == sorted(risks, reverse=True)

    fixed_root = _debian_dir(tmp_path / "fixed", _status_entry("curl", "7.88.1-10+deb12u4"))
    rc, doc = _scan_json(capsys, f"dir:{fixed_root}", "--db", str(db))
    assert rc == 0 and not _find(doc, "CVE-2023-38545")
    # open issues stay reported as unfixed
    assert any(f["status"] == "unfixed" and not f["fixed_versions"] for f in doc["findings"])


def test_third_party_deb_is_flagged(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _debian_dir(tmp_path / "root", _status_entry("curl", "7.88.1-10+deb12u3~bpo11+1")
                       + _status_entry("acme-agent", "2.4.1"))
    with VulnDB(db) as h:
        from containerguard.detect import Matcher
        from containerguard.scanner.inventory import build_inventory

        res = Matcher(h).match(build_inventory(f"dir:{root}", cache=None))
    flagged = {f.package.name for f in res.findings if f.extra.get("not_from_distribution")}
    assert flagged == {"curl"}  # a backport: not the release archive's build
    assert not any(f.package.name == "acme-agent" for f in res.findings)


def _jar(path: Path, group: str, artifact: str, version: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        zf.writestr(f"META-INF/maven/{group}/{artifact}/pom.properties",
                    f"groupId={group}\nartifactId={artifact}\nversion={version}\n")


def _npm(root: Path, name: str, version: str) -> None:
    d = root / "app" / "node_modules" / name
    d.mkdir(parents=True)
    (d / "package.json").write_text(json.dumps({"name": name, "version": version}))


def test_language_known_cases_and_gate(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "app"
    _jar(root / "opt" / "app" / "log4j-core-2.14.1.jar", "org.apache.logging.log4j", "log4j-core", "2.14.1")
    _npm(root, "lodash", "4.17.15")
    rc, doc = _scan_json(capsys, f"dir:{root}", "--db", str(db), "--fail-on", "HIGH")
    assert rc == 1
    (log4shell,) = _find(doc, "CVE-2021-44228", "org.apache.logging.log4j:log4j-core")
    assert "GHSA-jfh8-c2jp-5v3q" in log4shell["aliases"]
    assert log4shell["kev"] is True and log4shell["kev_date_added"] == "2021-12-10" and log4shell["kev_ransomware"]
    assert log4shell["epss"] == pytest.approx(0.99999) and log4shell["epss_percentile"] == pytest.approx(1.0)
    assert log4shell["fixed_versions"] == ["2.15.0"]
    assert doc["findings"][0]["id"] == "CVE-2021-44228"  # KEV + ransomware + CVSS 10 ranks first
    (lodash,) = _find(doc, "GHSA-p6mc-m468-83gw", "lodash")
    assert lodash["fixed_versions"] == ["4.17.19"] and lodash["severity_source"] == "ghsa"

    # the gate: nothing at HIGH or above once only LOW findings are kept
    capsys.readouterr()
    assert main(["scan", f"dir:{root}", "--db", str(db), "--severity", "LOW", "--fail-on", "HIGH", "-q", "-o",
                 str(tmp_path / "r.txt")]) == 0
    assert main(["scan", f"dir:{root}", "--db", str(db), "--fail-on", "CRITICAL", "--exit-code", "7", "-q", "-o",
                 str(tmp_path / "r.txt")]) == 7
    clean = tmp_path / "clean"
    _npm(clean, "lodash", "4.17.21")
    rc, doc = _scan_json(capsys, f"dir:{clean}", "--db", str(db), "--fail-on", "HIGH")
    assert rc == 0 and not [f for f in doc["findings"] if f["package"]["name"] == "lodash"]


def test_go_binary_x_net_and_stdlib(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.app_image import GO_XNET_VERSION, app_sources

    src = app_sources()
    root = tmp_path / "root" / "usr" / "local" / "bin"
    root.mkdir(parents=True)
    shutil.copy2(src.go_app, root / "cg-goapp")
    rc, doc = _scan_json(capsys, f"dir:{tmp_path / 'root'}", "--db", str(db))
    assert rc == 0
    (f,) = _find(doc, "GHSA-qppj-fm5r-hxr3", "golang.org/x/net")
    assert f["package"]["version"] == GO_XNET_VERSION and "0.17.0" in f["fixed_versions"]
    # the binary's Go toolchain version is matched as the `stdlib` module
    assert any(x["package"]["name"] == "stdlib" and x["id"].startswith(("CVE-", "GO-", "GHSA-")) for x in doc["findings"])


def test_sbom_input_and_rescan_match_the_direct_scan(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _debian_dir(tmp_path / "root", _status_entry("curl", "7.88.1-10+deb12u3"))
    _npm(root, "lodash", "4.17.15")
    _jar(root / "opt" / "log4j-core.jar", "org.apache.logging.log4j", "log4j-core", "2.14.1")
    rc, direct = _scan_json(capsys, f"dir:{root}", "--db", str(db))
    key = {(f["package"]["name"], f["id"]) for f in direct["findings"]}
    assert len(key) > 10
    # the native JSON is a stored inventory: re-matched without the files
    stored = tmp_path / "scan.json"
    stored.write_text(json.dumps(direct))
    shutil.rmtree(root)
    with VulnDB(db) as h:
        again = rescan(stored, h)
    assert {(f.package.name, f.id) for f in again if f.package} == key
    # CycloneDX written by `sbom`-style reporters, then `scan sbom:FILE`
    from containerguard.report import get_reporter
    from containerguard.report.native import load_inventory

    inv = load_inventory(stored.read_text())
    bom = tmp_path / "bom.cdx.json"
    bom.write_text(get_reporter("cyclonedx")(inv, [], target=inv.target, tool_version="test"))
    rc, via_sbom = _scan_json(capsys, f"sbom:{bom}", "--db", str(db))
    assert rc == 0
    assert {(f["package"]["name"], f["id"]) for f in via_sbom["findings"]} == key


def test_bad_sbom_is_a_one_line_error(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\"bomFormat\": \"CycloneDX\", \"components\": [")
    capsys.readouterr()
    assert main(["scan", f"sbom:{bad}", "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_malicious_package_is_its_own_class(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a real OpenSSF malicious-packages record from the npm export, installed at a listed version
    with zipfile.ZipFile(vulnmirror.VULNDATA / "osv" / "npm" / "all.zip") as zf:
        for n in zf.namelist():
            if not n.startswith("MAL-"):
                continue
            rec = json.loads(zf.read(n))
            a = rec["affected"][0]
            if a.get("versions") and a["package"]["name"].isascii() and "/" not in a["package"]["name"]:
                break
    name, version = a["package"]["name"], a["versions"][0]
    root = tmp_path / "root"
    _npm(root, name, version)
    rc, doc = _scan_json(capsys, f"dir:{root}", "--db", str(db), "--fail-on", "CRITICAL")
    assert rc == 1
    (f,) = [f for f in doc["findings"] if rec["id"] in _ids(f)]
    assert f["kind"] == "malicious-package" and f["id"].startswith("MAL-")
    assert f["severity"].upper() == "CRITICAL" and f["risk"] == 100.0 and f["severity_source"] == "malicious-package"


def test_cyclonedx_round_trip_keeps_every_package_instance(tmp_path: Path, db: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`sbom -f cyclonedx` then `scan sbom:` gives the findings of the native scan: the same package found
    at two paths (Go `stdlib` in two binaries, two copies of lodash) stays two components."""
    from tests.fixtures.app_image import app_sources

    root = tmp_path / "root"
    for d in ("usr/local/bin", "opt/tools"):
        (root / d).mkdir(parents=True)
        shutil.copy2(app_sources().go_app, root / d / "cg-goapp")
    for d in ("srv/a", "srv/b"):
        _npm(root / d, "lodash", "4.17.15")
    rc, native = _scan_json(capsys, f"dir:{root}", "--db", str(db))
    assert rc == 0
    bom = tmp_path / "bom.cdx.json"
    capsys.readouterr()
    assert main(["sbom", f"dir:{root}", "-f", "cyclonedx", "-o", str(bom), "--no-cache", "-q"]) == 0
    rc, via = _scan_json(capsys, f"sbom:{bom}", "--db", str(db))
    assert rc == 0

    def key(doc: dict) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return sorted((f["id"], f["package"]["name"], f["package"]["version"], tuple(f["package"]["locations"]))
                      for f in doc["findings"] if f["kind"] == "vulnerability")

    assert key(via) == key(native)
    stdlib_paths = {loc for f in native["findings"] if f["package"]["name"] == "stdlib"
                    for loc in f["package"]["locations"]}
    assert stdlib_paths == {"usr/local/bin/cg-goapp", "opt/tools/cg-goapp"}
    assert len({loc for _, name, _, locs in key(via) if name == "lodash" for loc in locs}) == 2
