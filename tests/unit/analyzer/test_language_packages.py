"""Python, npm, gem, composer and Java analyzers on archives and metadata built here."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from helpers import run

from containerguard.analyzer.java import MAX_DEPTH, JavaArchiveAnalyzer
from containerguard.analyzer.npm import NpmPackageAnalyzer
from containerguard.analyzer.php import ComposerInstalledAnalyzer
from containerguard.analyzer.python import PythonPackageAnalyzer
from containerguard.analyzer.ruby import GemspecAnalyzer
from containerguard.errors import AnalyzerError

LOG4J_CORE = Path("/usr/share/java/log4j-core-2.19.0.jar")

# --------------------------------------------------------------------------- Python


def test_python_paths_required() -> None:
    a = PythonPackageAnalyzer()
    for path in ("usr/lib/python3/dist-packages/six-1.16.0.egg-info",
                 "usr/local/lib/python3.11/site-packages/Foo_Bar-1.0.dist-info/METADATA",
                 "usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO",
                 "opt/x/setuptools-40.0-py3.7.egg",
                 "opt/x/foo-1.0-py3.7.egg/EGG-INFO/PKG-INFO"):
        assert a.required(path, 0o100644), path
    for path in ("usr/lib/python3/x.dist-info/RECORD", "app/METADATA", "a/PKG-INFO"):
        assert not a.required(path, 0o100644), path


def test_python_dist_info_pep503_and_licenses() -> None:
    meta = ("Metadata-Version: 2.1\nName: Foo_Bar.baz\nVersion: 1.0.post1\nLicense: UNKNOWN\n"
            "Classifier: License :: OSI Approved :: MIT License\n\nlong description\nName: not-me\n")
    result = run(PythonPackageAnalyzer(), "site/Foo_Bar.baz-1.0.post1.dist-info/METADATA", meta)
    [p] = result.packages
    assert (p.name, p.version, p.purl) == ("foo-bar-baz", "1.0.post1", "pkg:pypi/foo-bar-baz@1.0.post1")
    assert p.licenses == ("MIT License",)
    assert p.metadata["name"] == "Foo_Bar.baz"


def test_python_egg_info_file_and_zipped_egg() -> None:
    pkg_info = "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n"
    result = run(PythonPackageAnalyzer(), "usr/lib/python3/dist-packages/six-1.16.0.egg-info", pkg_info)
    assert [(p.name, p.version, p.licenses) for p in result.packages] == [("six", "1.16.0", ("MIT",))]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: PyYAML\nVersion: 3.13\n")
        zf.writestr("yaml/__init__.py", "")
    result = run(PythonPackageAnalyzer(), "opt/eggs/PyYAML-3.13-py3.7.egg", buf.getvalue())
    assert [(p.name, p.version) for p in result.packages] == [("pyyaml", "3.13")]
    result = run(PythonPackageAnalyzer(), "opt/eggs/empty.egg", _zip({"x.py": b""}))
    assert result.packages == [] and len(result.warnings) == 1
    with pytest.raises(AnalyzerError):
        run(PythonPackageAnalyzer(), "opt/eggs/bad.egg", b"PK\x03\x04 truncated")
    result = run(PythonPackageAnalyzer(), "x/a.dist-info/METADATA", "Metadata-Version: 2.1\nSummary: no name\n")
    assert result.packages == [] and len(result.warnings) == 1


# --------------------------------------------------------------------------- npm


@pytest.mark.parametrize(("path", "wanted"), [
    ("app/node_modules/lodash/package.json", True),
    ("app/node_modules/@babel/core/package.json", True),
    ("app/node_modules/a/node_modules/b/package.json", True),
    ("app/package.json", False),
    ("app/node_modules/lodash/test/fixtures/package.json", False),
    ("app/node_modules/@babel/package.json", False),
    ("node_modules/x/package.json", True),
])
def test_npm_required(path: str, wanted: bool) -> None:
    assert NpmPackageAnalyzer().required(path, 0o100644) is wanted


def test_npm_scoped_and_bad() -> None:
    doc = {"name": "@babel/core", "version": "7.23.0", "license": "MIT"}
    result = run(NpmPackageAnalyzer(), "app/node_modules/@babel/core/package.json", json.dumps(doc))
    [p] = result.packages
    assert (p.name, p.purl, p.licenses) == ("@babel/core", "pkg:npm/%40babel/core@7.23.0", ("MIT",))
    result = run(NpmPackageAnalyzer(), "app/node_modules/x/package.json", '{"name": "x"}')
    assert result.packages == [] and len(result.warnings) == 1
    with pytest.raises(AnalyzerError):
        run(NpmPackageAnalyzer(), "app/node_modules/x/package.json", "{not json")


# --------------------------------------------------------------------------- Ruby, PHP

GEMSPEC = """\
# -*- encoding: utf-8 -*-
# stub: rack 2.2.8 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "2.2.8"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.authors = ["Leah Neukirchen".freeze]
  s.licenses = ["MIT".freeze]
  s.summary = "A modular Ruby webserver interface".freeze
end
"""


def test_gemspec() -> None:
    a = GemspecAnalyzer()
    assert not a.required("usr/lib/ruby/gems/3.1.0/gems/rack-2.2.8/rack.gemspec", 0o100644)
    result = run(a, "usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.8.gemspec", GEMSPEC)
    assert [(p.name, p.version, p.licenses, p.purl) for p in result.packages] == [
        ("rack", "2.2.8", ("MIT",), "pkg:gem/rack@2.2.8")]


def test_composer_installed_v1_and_v2() -> None:
    a = ComposerInstalledAnalyzer()
    v1 = [{"name": "monolog/monolog", "version": "1.27.1", "license": ["MIT"]}]
    v2 = {"packages": [{"name": "symfony/console", "version": "v6.3.4"},
                       {"name": "phpunit/phpunit", "version": "10.3.5"}, {"version": "1"}],
          "dev": True, "dev-package-names": ["phpunit/phpunit"]}
    r1 = run(a, "app/vendor/composer/installed.json", json.dumps(v1))
    assert [(p.name, p.version, p.purl) for p in r1.packages] == [
        ("monolog/monolog", "1.27.1", "pkg:composer/monolog/monolog@1.27.1")]
    r2 = run(a, "app/vendor/composer/installed.json", json.dumps(v2))
    assert {p.name: p.metadata.get("dev") for p in r2.packages} == {"symfony/console": None, "phpunit/phpunit": "true"}
    assert len(r2.warnings) == 1
    with pytest.raises(AnalyzerError):
        run(a, "app/vendor/composer/installed.json", '"a string"')


# --------------------------------------------------------------------------- Java


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.skipif(not LOG4J_CORE.exists(), reason="Debian liblog4j2-java not installed")
def test_war_with_nested_real_jar_and_manifest_fallback() -> None:
    manifest_only = _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Title: myl"
                          b"ib\r\nImplementation-Version: 3.4.5\r\nImplementation-Vendor-Id: com.exa\r\n mple\r\n\r\n"})
    war = _zip({
        "WEB-INF/lib/log4j-core-2.19.0.jar": LOG4J_CORE.read_bytes(),
        "WEB-INF/lib/mylib.jar": manifest_only,
        "WEB-INF/lib/commons-thing-1.2.jar": _zip({"a.class": b"\xca\xfe"}),
        "META-INF/maven/com.example/shop/pom.properties": b"#generated\ngroupId=com.example\nartifactId=shop\nversion=1.0.0\n",
    })
    result = run(JavaArchiveAnalyzer(), "srv/app/shop.war", war)
    got = {(p.name, p.version, p.metadata.get("archive_path", "")) for p in result.packages}
    assert got == {
        ("com.example:shop", "1.0.0", ""),
        ("org.apache.logging.log4j:log4j-core", "2.19.0", "WEB-INF/lib/log4j-core-2.19.0.jar"),
        ("com.example:mylib", "3.4.5", "WEB-INF/lib/mylib.jar"),  # manifest, continuation line joined
        ("commons-thing", "1.2", "WEB-INF/lib/commons-thing-1.2.jar"),  # file name, last resort
    }
    assert all(p.locations == ("srv/app/shop.war",) for p in result.packages)
    core = next(p for p in result.packages if p.name.endswith("log4j-core"))
    assert core.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0"


def test_nesting_depth_is_bounded_and_bad_nested_is_a_warning() -> None:
    inner = _zip({"META-INF/maven/g/a/pom.properties": b"groupId=g\nartifactId=a\nversion=1\n"})
    for _ in range(MAX_DEPTH + 2):
        inner = _zip({"lib/x.jar": inner})
    result = run(JavaArchiveAnalyzer(), "deep.ear", inner)
    assert result.packages == []
    assert any("nested deeper" in w for w in result.warnings)
    result = run(JavaArchiveAnalyzer(), "app.jar", _zip({"lib/broken.jar": b"PK\x03\x04garbage",
                                                         "META-INF/maven/g/b/pom.properties": b"artifactId=b\nversion=2\ngroupId=g\n"}))
    assert [p.name for p in result.packages] == ["g:b"]
    assert any("broken.jar" in w for w in result.warnings)
    with pytest.raises(AnalyzerError):
        run(JavaArchiveAnalyzer(), "not-a-zip.jar", b"hello")


def test_nested_bomb_is_skipped_unread() -> None:
    """A 40 MiB nested 'jar' that deflates to a few KiB: skipped with a warning, never inflated."""
    from containerguard.analyzer.java import MAX_NESTED_SIZE

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lib/huge.jar", bytes(MAX_NESTED_SIZE + 8 * 1024 * 1024))
        zf.writestr("META-INF/maven/g/outer/pom.properties", "groupId=g\nartifactId=outer\nversion=1\n")
    assert len(buf.getvalue()) < 200_000
    result = run(JavaArchiveAnalyzer(), "opt/app.jar", buf.getvalue())
    assert [p.name for p in result.packages] == ["g:outer"]
    assert any("too large" in w for w in result.warnings)
