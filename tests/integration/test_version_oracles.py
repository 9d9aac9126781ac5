"""Version ordering checked against each ecosystem's own implementation, on real version strings.

Oracles: ``dpkg --compare-versions`` (Debian), rpm's ``labelCompare`` via Debian's python3-rpm,
``packaging`` (PEP 440), the npm ``semver`` package under node, Go's own ``golang.org/x/mod/semver``
(the copy vendored in the Go toolchain), Maven's ``ComparableVersion`` (Debian's maven-artifact jar),
Ruby's ``Gem::Version`` and Composer's own composer/semver (Debian's php-composer-semver).
Version strings come from ../shared/vulndata (OSV exports, Alpine secdb) and the debootstrap image.
Every comparison must agree: one disagreement fails the test and is printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

from containerguard.errors import VersionError
from containerguard.versioning import get_scheme

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env
from versioning_corpus import (
    VULNDATA,
    alpine_secdb_versions,
    dpkg_status_versions,
    make_pairs,
    osv_versions,
    sample,
)

pytestmark = pytest.mark.skipif(not (VULNDATA / "osv").is_dir(), reason=f"no vulnerability data at {VULNDATA}")

MIN_PAIRS = 5000


def _disagreements(
    scheme_name: str, pairs: Sequence[tuple[str, str]], oracle: Sequence[int]
) -> list[tuple[str, str, int, int]]:
    scheme = get_scheme(scheme_name)
    assert len(oracle) == len(pairs)
    return [(a, b, want, got) for (a, b), want in zip(pairs, oracle, strict=True)
            if (got := scheme.compare(a, b)) != want]


# --------------------------------------------------------------------------- Debian / dpkg


@pytest.fixture(scope="module")
def debian_versions() -> list[str]:
    osv = osv_versions("Debian", "Debian", step=4)
    status = dpkg_status_versions(env.debian_rootfs() / "var/lib/dpkg/status")
    assert len(status) > 50, "the debootstrap image should list its packages"
    return sample(osv, 2150) + status


_DPKG_LOOP = r"""
while IFS=' ' read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo -1
  elif dpkg --compare-versions "$a" eq "$b"; then echo 0
  else echo 1; fi
done
"""


def dpkg_oracle(pairs: Sequence[tuple[str, str]]) -> list[int]:
    """Ask dpkg itself, in two shell loops running side by side (one process per comparison)."""
    half = len(pairs) // 2
    chunks = [pairs[:half], pairs[half:]]
    procs = [
        subprocess.Popen(["sh", "-c", _DPKG_LOOP], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
        for _ in chunks
    ]
    outs = []
    for proc, chunk in zip(procs, chunks, strict=True):
        assert proc.stdin is not None
        proc.stdin.write("".join(f"{a} {b}\n" for a, b in chunk))
        proc.stdin.close()
    for proc in procs:
        assert proc.stdout is not None
        outs.extend(int(x) for x in proc.stdout.read().split())
        assert proc.wait(timeout=120) == 0
    return outs


@pytest.mark.slow
def test_dpkg_agrees_with_dpkg_compare_versions(debian_versions: list[str]) -> None:
    scheme = get_scheme("Debian:12")
    assert all(scheme.valid(v) for v in debian_versions), [v for v in debian_versions if not scheme.valid(v)][:5]
    pairs = make_pairs(debian_versions, scheme.key, n_random=1200)
    assert len(pairs) >= MIN_PAIRS
    assert any("~" in a + b for a, b in pairs) and any(":" in a + b for a, b in pairs)
    bad = _disagreements("dpkg", pairs, dpkg_oracle(pairs))
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with dpkg, e.g. {bad[:10]}"


def test_known_debian_fix_boundary() -> None:
    # curl in bookworm below 7.88.1-10+deb12u4 is affected by CVE-2023-38545
    pairs = [("7.88.1-10+deb12u3", "7.88.1-10+deb12u4"), ("7.88.1-10+deb12u12", "7.88.1-10+deb12u4"),
             ("7.88.1-10", "7.88.1-10+deb12u4"), ("1:7.0", "7.88.1-10+deb12u4")]
    bad = _disagreements("dpkg", pairs, dpkg_oracle(pairs))
    assert not bad


# --------------------------------------------------------------------------- RPM


_RPM_ORACLE = r"""
import json, sys, rpm
out = []
for a, b in json.load(sys.stdin):
    va, vb = rpm.ver(a), rpm.ver(b)
    out.append(rpm.labelCompare((va.e, va.v, va.r), (vb.e, vb.v, vb.r)))
json.dump(out, sys.stdout)
"""

# rpm's own test vectors shapes (rpmvercmp.at): separators, tildes, carets, letters vs numbers
_RPM_SHAPES = [
    "1.0", "1.0.0", "1_0", "1+0", "1.0a", "1.0aa", "1.0b", "1.0.a", "1.0~rc1", "1.0~rc1~git123", "1.0~rc2",
    "1.0^", "1.0^git1", "1.0^git1~pre", "1.0^git2", "1.0~", "1.0~~", "1.01", "1.001", "1.1", "1a", "a1",
    "2.0.1a", "2.0.1", "5.5p1", "5.5p2", "5.5p10", "10xyz", "10.1xyz", "xyz10", "xyz10.1", "xyz.4", "8",
    "8.0", "7.0_1", "1.0.0-1", "1.0.0-1.el8", "1.0.0-1.el8_2", "1.0.0-1.fc38", "1:1.0-1", "2:0.1-1",
]


def test_rpm_agrees_with_rpm_labelcompare(debian_versions: list[str]) -> None:
    if not Path("/usr/bin/python3").exists() or subprocess.run(
        ["/usr/bin/python3", "-c", "import rpm"], capture_output=True
    ).returncode:
        pytest.fail("python3-rpm is missing: run scripts/setup")
    scheme = get_scheme("Rocky Linux:9")
    # real strings in EVR shape: Debian and Alpine versions (epochs, tildes, letter runs), plus rpm's shapes
    versions = debian_versions + sample(alpine_secdb_versions(), 1200) + _RPM_SHAPES
    versions = [v for v in versions if scheme.valid(v)]
    pairs = make_pairs(versions, scheme.key, n_random=3000)
    # rpm treats a missing release as matching every release (not an order): compare like with like
    pairs = [(a, b) for a, b in pairs if ("-" in a.split(":")[-1]) == ("-" in b.split(":")[-1])]
    assert len(pairs) >= MIN_PAIRS
    res = subprocess.run(["/usr/bin/python3", "-c", _RPM_ORACLE], input=json.dumps(pairs),
                         capture_output=True, text=True, check=True, timeout=120)
    bad = _disagreements("rpm", pairs, json.loads(res.stdout))
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with rpm, e.g. {bad[:10]}"


# --------------------------------------------------------------------------- PEP 440


def test_pep440_agrees_with_packaging() -> None:
    strings = osv_versions("PyPI", "PyPI")
    scheme = get_scheme("PyPI")
    valid = []
    for s in strings:
        try:
            Version(s)
        except InvalidVersion:
            with pytest.raises(VersionError):
                scheme.key(s)
            continue
        valid.append(s)
    assert len(valid) > 10000
    pairs = make_pairs(valid, scheme.key, n_random=6000)
    oracle = [(Version(a) > Version(b)) - (Version(a) < Version(b)) for a, b in pairs]
    bad = _disagreements("pep440", pairs, oracle)
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with packaging, e.g. {bad[:10]}"
    assert sorted(valid, key=scheme.key) == sorted(valid, key=Version)


# --------------------------------------------------------------------------- npm semver


SEMVER_NPM_VERSION = "7.6.3"


def npm_semver_dir() -> Path:
    root = env.CACHE / f"npm-semver-{SEMVER_NPM_VERSION}"
    with env.machine_lock("npm-semver"):
        if not (root / "node_modules" / "semver" / "package.json").exists():
            root.mkdir(parents=True, exist_ok=True)
            env.run("npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", "--silent",
                    f"semver@{SEMVER_NPM_VERSION}")
    return root


_NODE_ORACLE = r"""
const semver = require(process.argv[1] + '/node_modules/semver');
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const {versions, pairs} = JSON.parse(input);
  const valid = versions.map(v => semver.valid(v) !== null);
  const cmp = pairs.map(([a, b]) => semver.compare(a, b));
  process.stdout.write(JSON.stringify({valid, cmp}));
});
"""


def test_npm_semver_agrees_with_node_semver() -> None:
    if not shutil.which("node"):
        pytest.fail("node is missing: run scripts/setup")
    strings = osv_versions("npm", "npm")
    scheme = get_scheme("npm")
    root = npm_semver_dir()
    valid_mine = [scheme.valid(s) for s in strings]
    valid = [s for s, ok in zip(strings, valid_mine, strict=True) if ok]
    pairs = make_pairs(valid, scheme.key, n_random=max(0, MIN_PAIRS - 2 * len(valid)) + 1000)
    res = subprocess.run(["node", "-e", _NODE_ORACLE, str(root)], input=json.dumps({"versions": strings, "pairs": pairs}),
                         capture_output=True, text=True, check=True, timeout=120)
    out = json.loads(res.stdout)
    wrong_valid = [s for s, mine, theirs in zip(strings, valid_mine, out["valid"], strict=True) if mine != theirs]
    assert not wrong_valid, f"validity differs from node-semver: {wrong_valid[:10]}"
    assert len(pairs) >= MIN_PAIRS
    bad = _disagreements("semver", pairs, out["cmp"])
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with node-semver, e.g. {bad[:10]}"


# --------------------------------------------------------------------------- Go


_GO_MAIN = r"""
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"oracle/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Split(in.Text(), " ")
		if len(f) == 1 {
			fmt.Fprintln(out, semver.IsValid(f[0]))
		} else {
			fmt.Fprintln(out, semver.Compare(f[0], f[1]))
		}
	}
}
"""


def go_semver_oracle() -> Path:
    """A tiny program over the golang.org/x/mod/semver copy vendored in the installed Go toolchain."""
    if not shutil.which("go"):
        pytest.fail("go is missing: run scripts/setup")
    goroot = Path(env.run("go", "env", "GOROOT").stdout.strip())
    src = goroot / "src/cmd/vendor/golang.org/x/mod/semver/semver.go"
    if not src.exists():
        pytest.fail(f"{src} is missing from the Go toolchain")
    binary = env.CACHE / "go-semver-oracle"
    with env.machine_lock("go-semver-oracle"):
        if not binary.exists():
            with tempfile.TemporaryDirectory() as tmp:
                d = Path(tmp)
                (d / "semver").mkdir()
                shutil.copy(src, d / "semver" / "semver.go")
                (d / "go.mod").write_text("module oracle\n\ngo 1.19\n")
                (d / "main.go").write_text(_GO_MAIN)
                genv = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOCACHE": str(env.CACHE / "gocache"),
                        "GOPATH": str(env.CACHE / "gopath")}
                subprocess.run(["go", "build", "-o", str(binary) + ".part", "."], cwd=d, env=genv, check=True,
                               capture_output=True, timeout=300)
                Path(str(binary) + ".part").rename(binary)
    return binary


def test_go_agrees_with_x_mod_semver() -> None:
    strings = osv_versions("Go", "Go")
    scheme = get_scheme("Go")
    oracle = go_semver_oracle()
    vs = [s if s.startswith("v") else "v" + s for s in strings]
    valid = [v for v in vs if scheme.valid(v)]
    pairs = make_pairs(valid, scheme.key, n_random=max(0, MIN_PAIRS - 2 * len(valid)) + 1000)
    lines = [v for v in vs] + [f"{a} {b}" for a, b in pairs]
    res = subprocess.run([str(oracle)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True, timeout=60)
    out = res.stdout.split()
    theirs_valid = [x == "true" for x in out[: len(vs)]]
    wrong_valid = [v for v, ok in zip(vs, theirs_valid, strict=True) if ok != scheme.valid(v)]
    assert not wrong_valid, f"validity differs from x/mod/semver: {wrong_valid[:10]}"
    assert len(pairs) >= MIN_PAIRS
    bad = _disagreements("go", pairs, [int(x) for x in out[len(vs):]])
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with x/mod/semver, e.g. {bad[:10]}"
    # the "v" is optional here: the OSV form without it orders the same
    assert all(scheme.key(v) == scheme.key(v[1:]) for v in valid[:500])


# --------------------------------------------------------------------------- Maven


MAVEN_JAR = Path("/usr/share/java/maven-artifact-3.x.jar")


def test_maven_agrees_with_comparable_version() -> None:
    java = shutil.which("java")
    if not java or not MAVEN_JAR.exists():
        pytest.fail("java or maven-artifact is missing: run scripts/setup (default-jre-headless, libmaven3-core-java)")
    scheme = get_scheme("Maven")
    strings = [s for s in sample(osv_versions("Maven", "Maven"), 3000) if s.strip() == s and " " not in s
               and not s.startswith("-")]
    # a sequence whose neighbours are the pairs: ComparableVersion's main compares each adjacent two
    pairs = make_pairs(strings, scheme.key, n_random=0)
    seq = [x for pair in pairs for x in pair]
    res = subprocess.run([java, "-cp", str(MAVEN_JAR), "org.apache.maven.artifact.versioning.ComparableVersion",
                          *seq], capture_output=True, text=True, check=True, timeout=120)
    ops = [line for line in res.stdout.splitlines() if line.startswith("   ")]
    assert len(ops) == len(seq) - 1
    oracle = []
    checked = []
    for i, line in enumerate(ops):
        a, b = seq[i], seq[i + 1]
        for op, val in (("<", -1), ("==", 0), (">", 1)):
            if line == f"   {a} {op} {b}":
                oracle.append(val)
                checked.append((a, b))
                break
        else:
            pytest.fail(f"cannot read ComparableVersion's output line {line!r}")
    assert len(checked) >= MIN_PAIRS
    bad = _disagreements("maven", checked, oracle)
    assert not bad, f"{len(bad)} of {len(checked)} disagree with Maven ComparableVersion, e.g. {bad[:10]}"


# --------------------------------------------------------------------------- Alpine (no apk binary here)


def test_alpine_versions_parse_and_sort_sanely() -> None:
    """No apk binary exists on Debian; the ordering itself is checked against apk-tools' own test vectors
    in tests/unit/versioning. Here: every real Alpine version parses, and the orderings a user relies on hold."""
    scheme = get_scheme("Alpine:v3.19")
    versions = sorted(set(alpine_secdb_versions()) | set(osv_versions("Debian", "Alpine", step=4)))
    assert len(versions) > 5000
    invalid = [v for v in versions if not scheme.valid(v)]
    # apk-tools refuses a '-' that does not start a -rN revision; those (and only those) are refused here
    assert all(re.search(r"-(?!r\d+$)", v) for v in invalid), invalid
    assert len(invalid) < 20, invalid
    valid = [v for v in versions if scheme.valid(v)]
    ordered = sorted(valid, key=scheme.key)
    by_upstream: dict[str, list[int]] = {}
    for v in ordered:
        up, sep, rev = v.rpartition("-r")
        if sep and rev.isdigit():
            by_upstream.setdefault(up, []).append(int(rev))
            # the -rN build of a version sorts after the bare version and before its next release
            assert scheme.compare(up, v) < 0
            if scheme.valid(up + ".1"):
                assert scheme.compare(v, up + ".1") < 0
    assert sum(len(x) for x in by_upstream.values()) > 5000
    for revs in by_upstream.values():
        assert revs == sorted(revs)
    # numeric components compare as numbers, never as text
    assert scheme.compare("1.2.10-r0", "1.2.9-r0") > 0


# --------------------------------------------------------------------------- RubyGems (Ruby's Gem::Version)


_RUBY_ORACLE = r"""
require 'json'
data = JSON.parse($stdin.read)
valid = data['versions'].map { |v| Gem::Version.correct?(v) ? true : false }
cmp = data['pairs'].map { |a, b| Gem::Version.new(a) <=> Gem::Version.new(b) }
print JSON.generate({'valid' => valid, 'cmp' => cmp})
"""


def test_rubygems_agrees_with_gem_version() -> None:
    if not shutil.which("ruby"):
        pytest.fail("ruby is missing: run scripts/setup")
    scheme = get_scheme("RubyGems")
    strings = osv_versions("RubyGems", "RubyGems")
    valid = [s for s in strings if scheme.valid(s)]
    pairs = make_pairs(valid, scheme.key, n_random=max(0, MIN_PAIRS - 2 * len(valid)) + 1000)
    res = subprocess.run(["ruby", "-e", _RUBY_ORACLE], input=json.dumps({"versions": strings, "pairs": pairs}),
                         capture_output=True, text=True, check=True, timeout=120)
    out = json.loads(res.stdout)
    wrong_valid = [s for s, theirs in zip(strings, out["valid"], strict=True) if theirs != scheme.valid(s)]
    assert not wrong_valid, f"validity differs from Gem::Version: {wrong_valid[:10]}"
    assert len(pairs) >= MIN_PAIRS
    bad = _disagreements("rubygems", pairs, out["cmp"])
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with Gem::Version, e.g. {bad[:10]}"


# --------------------------------------------------------------------------- Composer (composer/semver)


COMPOSER_SEMVER = Path("/usr/share/php/Composer/Semver/autoload.php")

_PHP_ORACLE = r"""<?php
require $argv[1];
$p = new Composer\Semver\VersionParser();
$data = json_decode(stream_get_contents(STDIN), true);
$norm = [];
foreach ($data['versions'] as $v) {
    try { $n = $p->normalize($v); $norm[$v] = (strpos($n, 'dev-') === 0) ? null : $n; }
    catch (UnexpectedValueException $e) { $norm[$v] = null; }
}
$valid = array_map(function ($v) use ($norm) { return $norm[$v] !== null; }, $data['versions']);
$cmp = array_map(function ($ab) use ($norm) { return version_compare($norm[$ab[0]], $norm[$ab[1]]); }, $data['pairs']);
echo json_encode(['valid' => $valid, 'cmp' => $cmp]);
"""


def test_composer_agrees_with_composer_semver() -> None:
    if not shutil.which("php") or not COMPOSER_SEMVER.exists():
        pytest.fail("php or composer/semver is missing: run scripts/setup (php-cli, php-composer-semver)")
    scheme = get_scheme("Packagist")
    strings = osv_versions("Packagist", "Packagist")
    valid = [s for s in strings if scheme.valid(s)]
    pairs = make_pairs(sample(valid, 4000), scheme.key, n_random=1000)
    with tempfile.NamedTemporaryFile("w", suffix=".php") as script:
        script.write(_PHP_ORACLE)
        script.flush()
        res = subprocess.run(["php", script.name, str(COMPOSER_SEMVER)],
                             input=json.dumps({"versions": strings, "pairs": pairs}),
                             capture_output=True, text=True, check=True, timeout=120)
    out = json.loads(res.stdout)
    wrong_valid = [s for s, theirs in zip(strings, out["valid"], strict=True) if theirs != scheme.valid(s)]
    assert not wrong_valid, f"validity differs from Composer's VersionParser: {wrong_valid[:10]}"
    assert len(pairs) >= MIN_PAIRS
    bad = _disagreements("composer", pairs, out["cmp"])
    assert not bad, f"{len(bad)} of {len(pairs)} disagree with Composer, e.g. {bad[:10]}"
