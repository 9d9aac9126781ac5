"""The issue's oracles, computed independently from the raw feeds in ../shared/vulndata:

* PyPI: for real old installs, every advisory whose ``versions`` list holds the installed version is
  reported, and none whose ranges exclude it (ranges evaluated here with ``packaging``).
* Debian: for the debootstrap bookworm rootfs, the (source package, advisory) pairs equal a computation
  from the raw ``Debian:12`` records with ``dpkg --compare-versions`` as the comparator.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env, vulnmirror

from containerguard.cli.main import main

OSV = vulnmirror.VULNDATA / "osv"


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


def _scan(capsys: pytest.CaptureFixture[str], target: str, db: Path) -> dict:
    capsys.readouterr()
    assert main(["scan", target, "--scanners", "vuln", "--db", str(db), "-f", "json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def _records(eco: str, names: set[str], norm=lambda n: n) -> dict[str, list[tuple[str, dict]]]:
    """name -> [(record id, affected entry)] for entries of ``eco`` (exact or prefix ``eco:``) naming ``names``."""
    out: dict[str, list[tuple[str, dict]]] = {}
    with zipfile.ZipFile(OSV / eco.split(":")[0] / "all.zip") as zf:
        for n in zf.namelist():
            rec = json.loads(zf.read(n))
            if rec.get("withdrawn"):
                continue
            for a in rec.get("affected") or []:
                pkg = a.get("package") or {}
                if pkg.get("ecosystem") == eco and norm(pkg.get("name", "")) in names:
                    out.setdefault(norm(pkg["name"]), []).append((rec["id"], a))
    return out


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _in_range_pep440(v: Version, events: list[dict]) -> bool:
    """OSV's evaluation: walk the events sorted by version; introduced opens, fixed/last_affected close."""
    def key(e: dict) -> tuple[int, Version]:
        ((_k, val),) = e.items()
        return (0, Version("0")) if val == "0" else (1, Version(val))
    affected = False
    for e in sorted(events, key=key):
        ((k, val),) = e.items()
        if k == "introduced" and (val == "0" or v >= Version(val)):
            affected = True
        elif (k == "fixed" and v >= Version(val)) or (k == "last_affected" and v > Version(val)):
            affected = False
    limits = [Version(val) for e in events for k, val in e.items() if k == "limit" and val != "*"]
    return affected and (not limits or any(v < lim for lim in limits))


def test_pypi_oracle(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.app_image import app_sources

    site = app_sources().site_packages
    installed = {_pep503(d.metadata["Name"]): d.version for d in importlib.metadata.distributions(path=[str(site)])}
    assert {"django", "requests", "pyyaml", "jinja2", "urllib3", "flask", "pillow"} <= set(installed)
    doc = _scan(capsys, f"dir:{site}", db)
    matched: dict[str, set[str]] = {}
    reported_ids: dict[str, set[str]] = {}
    for f in doc["findings"]:
        name = f["package"]["name"]
        matched.setdefault(name, set()).update(f["extra"]["records"])
        reported_ids.setdefault(name, set()).update([f["id"], *f["aliases"]])
    raw = _records("PyPI", set(installed), _pep503)
    total_expected = 0
    for name, version in installed.items():
        v = Version(version)
        by_id: dict[str, list[dict]] = {}
        for rid, a in raw.get(name, []):
            by_id.setdefault(rid, []).append(a)
        expected = {rid for rid, entries in by_id.items() if any(version in (a.get("versions") or []) for a in entries)}
        excluded = set()
        for rid, entries in by_id.items():
            if rid in expected:
                continue
            try:
                if not any(_in_range_pep440(v, r["events"]) for a in entries for r in a.get("ranges", [])
                           if r["type"] in ("ECOSYSTEM", "SEMVER")):
                    excluded.add(rid)
            except InvalidVersion:
                continue  # a bound packaging cannot parse: the DB build skips such entries (counted)
        total_expected += len(expected)
        missing = expected - matched.get(name, set())
        assert not missing, f"{name} {version}: advisories listing the version not reported: {sorted(missing)}"
        assert not missing - reported_ids.get(name, set())
        wrong = excluded & matched.get(name, set())
        assert not wrong, f"{name} {version}: reported although the ranges exclude it: {sorted(wrong)}"
    assert total_expected > 50  # django 2.0, pillow 6.0.0 ... carry many advisories
    # the example: django 2.0 -> GHSA-5hg3-6c2f-f3wr (CVE-2018-14574), fixed in 2.0.8
    (f,) = [f for f in doc["findings"] if f["package"]["name"] == "django" and "GHSA-5hg3-6c2f-f3wr" in
            {f["id"], *f["aliases"]}]
    assert f["id"] == "CVE-2018-14574" and "2.0.8" in f["fixed_versions"] and "PYSEC-2018-2" in f["aliases"]


def _dpkg_batch(pairs: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], bool]:
    """Run many `dpkg --compare-versions A OP B` in one shell, in order; True where it holds."""
    items = sorted(pairs)
    script = "".join(f"dpkg --compare-versions '{a}' {op} '{b}' && echo 1 || echo 0\n" for a, op, b in items)
    out = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == len(items)
    return {p: r == "1" for p, r in zip(items, out, strict=True)}


def _debian_expected(rootfs: Path) -> set[tuple[str, str]]:
    q = subprocess.run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
                        "-f", "${source:Package}\t${source:Version}\n"], capture_output=True, text=True, check=True)
    installed = dict(line.split("\t") for line in q.stdout.splitlines() if line.strip())
    raw = _records("Debian:12", set(installed))
    # every comparison the evaluation needs, done by dpkg itself
    pairs: set[tuple[str, str, str]] = set()
    for src, entries in raw.items():
        v = installed[src]
        for _rid, a in entries:
            for r in a.get("ranges", []):
                if r["type"] != "ECOSYSTEM":
                    continue
                evs = [next(iter(e.items())) for e in r["events"]]
                for k, val in evs:
                    if val != "0":
                        pairs.add((v, "ge", val))
                        pairs.add((v, "gt", val))
                for ki, vi in evs:
                    for kj, vj in evs:
                        if ki == "introduced" and kj != "introduced" and vi != "0":
                            pairs.add((vj, "ge", vi))
    cmp = _dpkg_batch(pairs)
    expected: set[tuple[str, str]] = set()
    for src, entries in raw.items():
        v = installed[src]
        for rid, a in entries:
            hit = v in (a.get("versions") or [])
            for r in a.get("ranges", []):
                if r["type"] != "ECOSYSTEM":
                    continue
                evs = [next(iter(e.items())) for e in r["events"]]
                for ki, vi in evs:
                    if ki != "introduced" or not (vi == "0" or cmp[(v, "ge", vi)]):
                        continue
                    # an interval [vi, next closing event): closed by any fixed <= v or last_affected < v after vi
                    closed = False
                    for kj, vj in evs:
                        after = vi == "0" or cmp[(vj, "ge", vi)]
                        if kj == "fixed" and after and cmp[(v, "ge", vj)]:
                            closed = True
                        if kj == "last_affected" and after and cmp[(v, "gt", vj)]:
                            closed = True
                    hit = hit or not closed
            if hit:
                expected.add((src, rid))
    return expected


def _deb_pairs(doc: dict) -> set[tuple[str, str]]:
    out = set()
    for f in doc["findings"]:
        p = f["package"]
        if p["type"] != "deb":
            continue
        src = (p.get("source") or {}).get("name") or p["name"]
        out.update((src, rid) for rid in f["extra"]["records"])
    return out


def test_debian_oracle_dir(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = env.debian_rootfs()
    doc = _scan(capsys, f"dir:{rootfs}", db)
    got = _deb_pairs(doc)
    expected = _debian_expected(rootfs)
    assert len(expected) > 20  # an up-to-date bookworm: mostly open (unfixed) issues
    assert got - expected == set(), f"reported but not affected per dpkg: {sorted(got - expected)[:20]}"
    assert expected - got == set(), f"affected per dpkg but not reported: {sorted(expected - got)[:20]}"
    assert doc["os"]["family"] == "debian" and doc["os"]["version"] == "12"
    # nothing from the official archive is flagged as foreign
    assert not [f for f in doc["findings"] if f["extra"].get("not_from_distribution")]


@pytest.mark.docker
def test_debian_oracle_docker(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tag = env.debian_image()
    doc = _scan(capsys, f"docker:{tag}", db)
    assert _deb_pairs(doc) == _debian_expected(env.debian_rootfs())
    # the layer that introduced each package is carried on the finding
    assert all(f["layer"] and f["layer"]["digest"] for f in doc["findings"])


@pytest.mark.slow
def test_debian_oracle_older_versions(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same oracle over 300 source packages at real, older bookworm versions (taken from the records'
    own ``versions`` lists), so fixed ranges, epochs, tildes and +debNuM revisions are all exercised."""
    picks: dict[str, str] = {}
    with zipfile.ZipFile(OSV / "Debian" / "all.zip") as zf:
        for n in sorted(zf.namelist())[::7]:
            rec = json.loads(zf.read(n))
            for a in rec.get("affected") or []:
                pkg = a.get("package") or {}
                vers = a.get("versions") or []
                if pkg.get("ecosystem") == "Debian:12" and vers and pkg["name"] not in picks:
                    picks[pkg["name"]] = vers[len(vers) // 2]
            if len(picks) >= 300:
                break
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('VERSION_ID="12"\nID=debian\nNAME="Debian GNU/Linux"\n')
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text("".join(
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {ver}\n"
        f"Maintainer: Debian <debian@example.org>\nDescription: x\n\n" for name, ver in sorted(picks.items())))
    doc = _scan(capsys, f"dir:{root}", db)
    expected = _debian_expected(root)
    got = _deb_pairs(doc)
    assert len(expected) > 1000
    assert any(f["status"] == "fixed" for f in doc["findings"]) and any(":" in p for p in picks.values())
    assert got - expected == set(), f"reported but not affected per dpkg: {sorted(got - expected)[:20]}"
    assert expected - got == set(), f"affected per dpkg but not reported: {sorted(expected - got)[:20]}"


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx-json"])
def test_sbom_of_the_image_gives_the_same_findings(fmt: str, tmp_path: Path, db: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`sbom`-style CycloneDX / SPDX of the bookworm rootfs re-scanned with `scan sbom:FILE`: the source
    packages (libc6 -> glibc ...) survive the round trip, so the findings are the same as scanning the files."""
    from containerguard.report import get_reporter
    from containerguard.scanner.inventory import build_inventory

    rootfs = env.debian_rootfs()
    direct = _scan(capsys, f"dir:{rootfs}", db)
    inv = build_inventory(f"dir:{rootfs}", cache=None)
    bom = tmp_path / f"bom.{fmt}.json"
    bom.write_text(get_reporter(fmt)(inv, [], target=inv.target, tool_version="test"))
    via = _scan(capsys, f"sbom:{bom}", db)
    key = lambda d: {(f["package"]["name"], f["package"]["version"], f["id"]) for f in d["findings"]}  # noqa: E731
    assert key(via) == key(direct) and len(key(direct)) > 30
    assert any(f["package"]["name"] == "libc6" and f["package"]["source"]["name"] == "glibc" for f in via["findings"])
