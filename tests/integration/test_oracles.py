"""The analyzers against the tools that own each format, on the same real files.

dpkg-query on the debootstrap rootfs, pip on the pip-installed site-packages, npm ls on the npm install,
``go version -m`` on the Go binaries, ``rpm -qa`` on a real rpmdb.sqlite made by rpm itself,
and ``unzip`` on the jars.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packageurl import PackageURL

from containerguard.analyzer._util import pep503
from containerguard.analyzer.dpkg import DpkgAnalyzer
from containerguard.analyzer.golang import GoBinaryAnalyzer
from containerguard.analyzer.java import JavaArchiveAnalyzer
from containerguard.analyzer.lockfiles import PackageLockAnalyzer
from containerguard.analyzer.npm import NpmPackageAnalyzer
from containerguard.analyzer.os import OSAnalyzer
from containerguard.analyzer.plugins import builtin_analyzers
from containerguard.analyzer.python import PythonPackageAnalyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env
from tests.fixtures.app_image import analyze_tree, app_sources

VENV_PY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def rootfs() -> Path:
    return env.debian_rootfs()


@pytest.fixture(scope="module")
def app():  # type: ignore[no-untyped-def]
    return app_sources()


def test_dpkg_equals_dpkg_query(rootfs: Path) -> None:
    out = subprocess.run(
        ["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
         "-f", "${db:Status-Abbrev}|${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\n"],
        check=True, capture_output=True, text=True).stdout
    expected = set()
    for line in out.splitlines():
        abbrev, name, version, arch, src, src_ver = line.split("|")
        if abbrev.strip() == "ii":
            expected.add((name, version, arch, src, src_ver))
    assert len(expected) > 50  # a minbase has ~90 packages
    result = analyze_tree(rootfs, [DpkgAnalyzer()])
    got = {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in result.packages}
    assert got == expected
    assert result.warnings == []
    # a package whose source differs in name and version: the Source: name (version) form is honoured
    assert any(s != n for n, _, _, s, _ in got)
    for p in result.packages:
        purl = PackageURL.from_string(p.purl)
        assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", p.name, p.version)
        assert purl.qualifiers == {"arch": p.arch}
        assert p.locations == ("var/lib/dpkg/status",)


def test_os_of_debootstrap_rootfs(rootfs: Path) -> None:
    result = analyze_tree(rootfs, [OSAnalyzer()])
    assert result.os is not None
    release = (rootfs / "usr/lib/os-release").read_text()
    assert 'VERSION_ID="12"' in release
    assert (result.os.family, result.os.version, result.os.codename) == ("debian", "12", "bookworm")


def test_python_equals_pip_list(app) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run([str(VENV_PY), "-m", "pip", "list", "--path", str(app.site_packages), "--format", "json",
                          "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    expected = {(pep503(d["name"]), d["version"]) for d in json.loads(out)}
    assert ("django", "2.0") in expected and len(expected) == 7
    result = analyze_tree(app.site_packages, [PythonPackageAnalyzer()], prefix="usr/local/lib/python3.11/dist-packages")
    assert {(p.name, p.version) for p in result.packages} == expected
    django = next(p for p in result.packages if p.name == "django")
    assert django.purl == "pkg:pypi/django@2.0"
    assert django.metadata["name"] == "Django"
    assert django.locations == ("usr/local/lib/python3.11/dist-packages/Django-2.0.dist-info/METADATA",)
    assert "BSD" in django.licenses


def _npm_tree(node: dict, out: set[tuple[str, str]]) -> None:  # type: ignore[type-arg]
    for name, dep in (node.get("dependencies") or {}).items():
        out.add((name, dep["version"]))
        _npm_tree(dep, out)


def test_npm_equals_npm_ls(app) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(["npm", "ls", "--all", "--json"], cwd=app.npm_dir, check=True, capture_output=True,
                         text=True).stdout
    expected: set[tuple[str, str]] = set()
    _npm_tree(json.loads(out), expected)
    assert expected == {("lodash", "4.17.15"), ("minimist", "0.0.8")}
    result = analyze_tree(app.npm_dir, [NpmPackageAnalyzer()], prefix="app")
    assert {(p.name, p.version) for p in result.packages} == expected
    assert {p.purl for p in result.packages} == {"pkg:npm/lodash@4.17.15", "pkg:npm/minimist@0.0.8"}
    assert {p.locations[0] for p in result.packages} == {"app/node_modules/lodash/package.json",
                                                         "app/node_modules/minimist/package.json"}


def test_package_lock_written_by_npm_equals_npm_ls(app) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(["npm", "ls", "--all", "--json"], cwd=app.npm_dir, check=True, capture_output=True,
                         text=True).stdout
    expected: set[tuple[str, str]] = set()
    _npm_tree(json.loads(out), expected)
    lock = app.npm_dir / "package-lock.json"
    assert json.loads(lock.read_text())["lockfileVersion"] == 3
    result = analyze_tree(app.npm_dir, [PackageLockAnalyzer()], prefix="src")
    assert {(p.name, p.version) for p in result.packages} == expected
    assert {p.locations for p in result.packages} == {("src/package-lock.json",)}


def _go_version_m(binary: Path) -> tuple[str, set[tuple[str, str]], str]:
    out = subprocess.run(["go", "version", "-m", str(binary)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    go_version = lines[0].split(": ", 1)[1].strip()
    mods: set[tuple[str, str]] = set()
    main = ""
    for line in lines[1:]:
        cols = line.strip().split("\t")
        if cols[0] == "mod":
            main = cols[1]
            mods.add((cols[1], "" if cols[2] == "(devel)" else cols[2]))
        elif cols[0] == "dep":
            mods.add((cols[1], cols[2]))
        elif cols[0] == "=>":
            raise AssertionError("no replacements expected in these binaries")
    return go_version, mods, main


@pytest.mark.parametrize("which", ["go_app", "debian_go"])
def test_go_equals_go_version_m(app, which: str) -> None:  # type: ignore[no-untyped-def]
    binary: Path = getattr(app, which)
    go_version, expected, main = _go_version_m(binary)
    result = analyze_tree(binary.parent, [GoBinaryAnalyzer()], prefix="usr/local/bin")
    mine = [p for p in result.packages if p.locations == (f"usr/local/bin/{binary.name}",)]
    got = {(p.name, p.version) for p in mine if p.name != "stdlib"}
    assert got == expected
    std = [p for p in mine if p.name == "stdlib"]
    assert [p.version for p in std] == ["v" + go_version.removeprefix("go").split()[0]]
    if which == "go_app":
        assert main == "example.com/cgapp"
        assert ("golang.org/x/net", "v0.7.0") in got
        assert next(p for p in mine if p.name == "golang.org/x/net").purl == "pkg:golang/golang.org/x/net@v0.7.0"


def test_java_equals_pom_properties_in_jars(app) -> None:  # type: ignore[no-untyped-def]
    expected = set()
    for jar in sorted(app.java_dir.glob("*.jar")):
        listing = subprocess.run(["unzip", "-Z1", str(jar)], check=True, capture_output=True, text=True).stdout
        for entry in listing.splitlines():
            if entry.startswith("META-INF/maven/") and entry.endswith("/pom.properties"):
                props = subprocess.run(["unzip", "-p", str(jar), entry], check=True, capture_output=True,
                                       text=True).stdout
                kv = dict(line.split("=", 1) for line in props.splitlines() if "=" in line and not line.startswith("#"))
                expected.add((f"{kv['groupId']}:{kv['artifactId']}", kv["version"]))
    assert ("org.apache.logging.log4j:log4j-core", "2.19.0") in expected
    result = analyze_tree(app.java_dir, [JavaArchiveAnalyzer()], prefix="opt/java")
    assert {(p.name, p.version) for p in result.packages} == expected
    assert result.warnings == []


def test_whole_app_tree_with_every_builtin_analyzer(app) -> None:  # type: ignore[no-untyped-def]
    """All built-ins together over the app image's files: each ecosystem found, nothing else, no warnings."""
    result = analyze_tree(app.context, builtin_analyzers())
    by_type: dict[str, int] = {}
    for p in result.packages:
        by_type[p.type] = by_type.get(p.type, 0) + 1
    assert by_type == {"pypi": 7, "npm": 2, "maven": 3, "golang": 4}
    assert result.warnings == []


def test_source_tree_npm_dir_through_build_inventory(app) -> None:  # type: ignore[no-untyped-def]
    """``dir:`` on a project with node_modules and package-lock.json: npm ls's packages once each, with both
    the installed manifest and the lockfile as locations."""
    from containerguard.scanner import inventory
    out = subprocess.run(["npm", "ls", "--all", "--json"], cwd=app.npm_dir, check=True, capture_output=True,
                         text=True).stdout
    expected: set[tuple[str, str]] = set()
    _npm_tree(json.loads(out), expected)
    inv = inventory.build_inventory(f"dir:{app.npm_dir}", cache=None)
    assert sorted((p.name, p.version) for p in inv.packages) == sorted(expected)
    for p in inv.packages:
        assert p.locations == (f"node_modules/{p.name}/package.json", "package-lock.json")
