"""Adversarial review of image inputs through the real ``containerguard sbom`` command.

Each case is a class of defect found by feeding the command inputs of our own: an archive ``docker save``
writes with a symlinked layer, layers whose files replace directories the tar never named, an opaque
whiteout at the root, hard links to hard links, and package databases built to take quadratic time.
Expected: the inventory a container started from the image would show, or a one-line error (exit 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env
from tests.fixtures import registry as reg

ALPINE = "ID=alpine\nVERSION_ID=3.19.1\n"
APK = "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n"
DEBIAN = "ID=debian\nVERSION_ID=12\n"
PREFIX = "cg-r2scan"


def _sbom(target: str, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "-f", "json",
                           "--no-cache", "-q", *extra], capture_output=True, text=True, timeout=timeout)


def _inventory(target: str) -> dict[str, Any]:
    proc = _sbom(target)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _names(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((p["name"], p["version"]) for p in doc["packages"])


def _archive(tmp_path: Path, *layers: list[tuple[Any, ...]], name: str = "img.tar") -> str:
    return f"docker-archive:{reg.write_docker_archive(tmp_path / name, [reg.tar_bytes(list(ls)) for ls in layers])}"


# --------------------------------------------------------------------------- archives with linked members


@pytest.fixture(scope="module")
def repeated_layer_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image whose third layer has the same content as its first: Docker 20.10's ``docker save`` writes
    that layer as a symlink to the first one's ``layer.tar``."""
    env.ensure_dockerd()
    ctx = tmp_path_factory.mktemp("repeated")
    (ctx / "METADATA").write_text("Metadata-Version: 2.1\nName: repeated\nVersion: 1.0\n")
    (ctx / "other").write_text("other\n")
    (ctx / "Dockerfile").write_text(
        "FROM scratch\nCOPY other /other\n"
        "COPY METADATA /usr/lib/python3/site-packages/repeated-1.0.dist-info/METADATA\nCOPY other /other\n")
    tag = f"{PREFIX}/repeated:1"
    env.run("docker", "build", "-q", "-t", tag, str(ctx))
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_docker_save_with_a_repeated_layer(repeated_layer_image: str, tmp_path: Path) -> None:
    saved = tmp_path / "saved.tar"
    env.run("docker", "save", "-o", str(saved), repeated_layer_image)
    with tarfile.open(saved) as tf:
        assert any(m.issym() and m.name.endswith("/layer.tar") for m in tf), "docker save wrote no linked layer"
    for target in (f"docker-archive:{saved}", f"docker:{repeated_layer_image}"):
        doc = _inventory(target)
        assert _names(doc) == [("repeated", "1.0")], target
        assert len(doc["layers"]) == 3
        assert doc["layers"][0]["diff_id"] == doc["layers"][2]["diff_id"]


def _linked_archive(path: Path, link_target: str, *, kind: bytes = tarfile.SYMTYPE) -> Path:
    """A docker archive whose only layer member is a link (``ID/layer.tar -> link_target``)."""
    layer = reg.tar_bytes([("etc/os-release", ALPINE)])
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                      "diff_ids": [reg.sha(layer)]}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["abc/layer.tar"]}]).encode()
    entries: list[tuple[Any, ...]] = [("config.json", cfg), ("manifest.json", manifest), ("real/layer.tar", layer),
                                      ("abc/layer.tar", kind, link_target)]
    path.write_bytes(reg.tar_bytes(entries))
    return path


def test_linked_layer_members_resolve_inside_the_archive_only(tmp_path: Path) -> None:
    ok = {"relative symlink": _linked_archive(tmp_path / "rel.tar", "../real/layer.tar"),
          "absolute symlink": _linked_archive(tmp_path / "abs.tar", "/real/layer.tar"),
          "hard link": _linked_archive(tmp_path / "hard.tar", "real/layer.tar", kind=tarfile.LNKTYPE)}
    for what, path in ok.items():
        assert _inventory(f"docker-archive:{path}")["os"]["family"] == "alpine", what
    (tmp_path / "outside").mkdir()
    bad = {"leaves the archive": _linked_archive(tmp_path / "outside" / "out.tar", "../../outside/real/layer.tar"),
           "host file": _linked_archive(tmp_path / "etc.tar", "../../../../../../etc/os-release"),
           "a loop": _linked_archive(tmp_path / "loop.tar", "../abc/layer.tar")}
    (tmp_path / "outside" / "real").mkdir()
    (tmp_path / "outside" / "real" / "layer.tar").write_bytes(reg.tar_bytes([("etc/os-release", DEBIAN)]))
    for what, path in bad.items():
        proc = _sbom(f"docker-archive:{path}")
        assert proc.returncode == 2, (what, proc.stderr)
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, (what, proc.stderr)
        assert "abc/layer.tar missing from the archive" in proc.stderr, (what, proc.stderr)


# --------------------------------------------------------------------------- the merged view


def test_a_file_replacing_a_directory_the_tar_never_named_hides_what_was_below(tmp_path: Path) -> None:
    # the lower layer writes lib/apk/db/installed without entries for lib/, lib/apk/ or lib/apk/db/
    lower = [("etc/os-release", ALPINE), ("lib/apk/db/installed", APK)]
    for upper in ([("lib/apk", tarfile.SYMTYPE, "/nonexistent")], [("lib/apk", "now a file")],
                  [("lib", tarfile.SYMTYPE, "usr/lib")]):
        doc = _inventory(_archive(tmp_path, lower, upper))
        assert doc["packages"] == [], upper
        assert doc["os"]["family"] == "alpine"
    # the same upper layer over a lower one that holds nothing below it changes nothing else
    doc = _inventory(_archive(tmp_path, lower, [("lib/apk/db/installed2", tarfile.SYMTYPE, "installed")]))
    assert _names(doc) == [("musl", "1.2.4-r2")]


def test_opaque_whiteout_at_the_root_hides_every_lower_layer(tmp_path: Path) -> None:
    doc = _inventory(_archive(tmp_path, [("etc/os-release", DEBIAN), ("lib/apk/db/installed", APK)],
                              [(".wh..wh..opq", ""), ("etc/os-release", ALPINE)]))
    assert doc["packages"] == []
    assert doc["os"]["family"] == "alpine"


def test_hard_links_are_followed_to_the_file_holding_the_content(tmp_path: Path) -> None:
    # GNU tar names the first copy of a file as every hard link's target, but a link to a link extracts
    # to the same content: the package database reached through two links is read
    doc = _inventory(_archive(tmp_path, [("etc/os-release", ALPINE), ("a", APK), ("b", tarfile.LNKTYPE, "a"),
                                         ("lib/apk/db/installed", tarfile.LNKTYPE, "b")]))
    assert _names(doc) == [("musl", "1.2.4-r2")]
    assert doc["packages"][0]["locations"] == ["lib/apk/db/installed"]
    # links to themselves and to directories lead nowhere: skipped, and counted
    doc = _inventory(_archive(tmp_path, [("etc/os-release", ALPINE), ("lib/apk/db", tarfile.DIRTYPE),
                                         ("x", tarfile.LNKTYPE, "x"), ("lib/apk/db/installed", tarfile.LNKTYPE,
                                                                       "lib/apk/db")]))
    assert doc["packages"] == []
    assert any("2 hard links to files outside the layer skipped" in w for w in doc["inventory"]["warnings"])


# --------------------------------------------------------------------------- hostile package databases


def test_package_databases_with_millions_of_continuation_lines_take_linear_time(tmp_path: Path) -> None:
    """A dpkg stanza (or a jar's MANIFEST.MF) of many continuation lines: each was appended to a string,
    quadratic in the lines (an hour for a 6 MB status file)."""
    import zipfile

    status = ("Package: big\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nDescription: x\n"
              + " y\n" * 1_500_000 + "\nPackage: small\nStatus: install ok installed\nVersion: 2\n\n")
    jar = tmp_path / "app.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: big\n"
                    "Implementation-Version: 3.0\nX-Long: a\n" + " b\n" * 300_000 + "\n")
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "opt").mkdir()
    (root / "etc/os-release").write_text(DEBIAN)
    (root / "var/lib/dpkg/status").write_text(status)
    os.rename(jar, root / "opt/app.jar")
    started = time.monotonic()
    doc = _inventory(f"dir:{root}")
    assert time.monotonic() - started < 60
    assert ("big", "1.0-1") in _names(doc) and ("small", "2") in _names(doc)
    assert any(p["type"] == "maven" and p["version"] == "3.0" for p in doc["packages"])


# --------------------------------------------------------------------------- rpm databases

OWNED_SPEC = """\
Name: python3-owned
Version: 1.0
Release: 1.el7
Summary: an rpm that installs a Python distribution's metadata
License: MIT
BuildArch: noarch
%description
owned
%install
mkdir -p %{buildroot}/usr/lib/python3.6/site-packages/owned-1.0.dist-info
printf 'Metadata-Version: 2.1\\nName: owned\\nVersion: 1.0\\n' > %{buildroot}/usr/lib/python3.6/site-packages/owned-1.0.dist-info/METADATA
%files
/usr/lib/python3.6/site-packages/owned-1.0.dist-info
"""


@pytest.fixture(scope="module")
def owned_rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, bytes]]:
    """The header rpm 4.18 stores for a package owning a dist-info METADATA (built and installed here)."""
    import shutil
    import sqlite3

    if not (shutil.which("rpmbuild") and shutil.which("db5.3_load")):
        pytest.fail("Debian packages rpm and db5.3-util are needed (scripts/setup installs them)")
    top = tmp_path_factory.mktemp("owned")
    (top / "owned.spec").write_text(OWNED_SPEC)
    env.run("rpmbuild", "-bb", "--define", f"_topdir {top}/build", str(top / "owned.spec"))
    (rpm,) = (top / "build" / "RPMS").rglob("python3-owned-*.rpm")
    env.run("rpm", "--initdb", "--dbpath", str(top / "db"))
    env.run("rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(top / "db"), str(rpm))
    con = sqlite3.connect(f"file:{top / 'db' / 'rpmdb.sqlite'}?mode=ro", uri=True)
    rows = [(int(h), bytes(b)) for h, b in con.execute("SELECT hnum, blob FROM Packages")]
    con.close()
    return rows


@pytest.mark.parametrize("backend", ["bdb", "sqlite"])
def test_language_packages_an_rpm_installed_are_reported_once(owned_rows: list[tuple[int, bytes]], tmp_path: Path,
                                                              backend: str) -> None:
    """The Python metadata an rpm installed is that rpm's: reported as the rpm only, whatever the rpmdb
    format (the BerkeleyDB and NDB readers lost the packages' file lists, so it was reported twice)."""
    import sqlite3

    from tests.integration.test_oracles_rpm_legacy import make_bdb

    root = tmp_path / "root"
    meta = root / "usr/lib/python3.6/site-packages/owned-1.0.dist-info/METADATA"
    meta.parent.mkdir(parents=True)
    meta.write_text("Metadata-Version: 2.1\nName: owned\nVersion: 1.0\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID="centos"\nVERSION_ID="7"\n')
    if backend == "bdb":
        make_bdb(owned_rows, root / "var/lib/rpm", 4096)
    else:
        (root / "var/lib/rpm").mkdir(parents=True)
        con = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
        con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
        con.executemany("INSERT INTO Packages VALUES (?, ?)", owned_rows)
        con.commit()
        con.close()
    doc = _inventory(f"dir:{root}")
    assert [(p["type"], p["name"]) for p in doc["packages"]] == [("rpm", "python3-owned")]


def test_rpmdb_sqlite_rows_that_are_no_header_blob_are_counted_skips(owned_rows: list[tuple[int, bytes]],
                                                                     tmp_path: Path) -> None:
    """SQLite does not enforce column types: a text, NULL or integer row is skipped with a warning naming
    it, and the database's good rows are still read (one such row lost every package)."""
    import sqlite3

    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="9.3"\n')
    con = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    con.executemany("INSERT INTO Packages VALUES (?, ?)", [(7, "text"), (8, None), (9, 12345),
                                                           *[(h + 100, b) for h, b in owned_rows]])
    con.execute("INSERT INTO Packages VALUES (10, ?)", (b"\xff" * 8,))  # a blob, but no header
    con.commit()
    con.close()
    doc = _inventory(f"dir:{root}")
    assert [p["name"] for p in doc["packages"]] == ["python3-owned"]
    warnings = doc["inventory"]["warnings"]
    for hnum, kind in ((7, "str"), (8, "NoneType"), (9, "int")):
        assert any(f"package header {hnum}: not a blob ({kind}); skipped" in w for w in warnings), warnings
    assert any("package header 10: header sizes out of range" in w for w in warnings), warnings


# --------------------------------------------------------------------------- names and versions that are no names


def test_packages_whose_name_or_version_holds_control_characters_are_counted_skips(tmp_path: Path) -> None:
    """A NUL, an escape sequence or a newline in a package's name or version comes from a corrupt or hostile
    database, whatever its format: it is skipped with a warning naming the file, never matched or stored."""
    site = "usr/lib/python3/dist-packages"
    doc = _inventory(_archive(tmp_path, [
        ("etc/os-release", DEBIAN),
        ("var/lib/dpkg/status", "Package: good\nStatus: install ok installed\nVersion: 1.0\n\n"
                                "Package: evil\nStatus: install ok installed\nVersion: 1.0\x1b[2J\x00\n\n"),
        (f"{site}/x-1.dist-info/METADATA", "Metadata-Version: 2.1\nName: py\x07bell\nVersion: 1.0\n"),
        ("usr/lib/node_modules/n/package.json", '{"name": "n\\u001b]8;;http://x\\u0007", "version": "1.0.0"}'),
        ("usr/lib/node_modules/m/package.json", '{"name": "m", "version": "1.0.0\\u0085"}'),
    ]))
    assert _names(doc) == [("good", "1.0")]
    warnings = doc["inventory"]["warnings"]
    for where in ("var/lib/dpkg/status: dpkg", f"{site}/x-1.dist-info/METADATA: python",
                  "usr/lib/node_modules/n/package.json: node", "usr/lib/node_modules/m/package.json: node"):
        assert any(w.startswith(where) and "control characters in its name or version skipped" in w
                   for w in warnings), (where, warnings)


def test_lockfile_values_of_the_wrong_kind_are_no_packages(tmp_path: Path) -> None:
    """A list or table where a lockfile has a name or version string, or garbage lines, gave packages named
    ``5`` at version ``[]``: each such entry is a named skip; the file's good entries are kept."""
    root = tmp_path / "src"
    root.mkdir()
    (root / "poetry.lock").write_text('[[package]]\nname = 5\nversion = []\n\n'
                                      '[[package]]\nname = "requests"\nversion = "2.19.0"\n')
    (root / "Cargo.lock").write_text('[[package]]\nname = "serde"\nversion = { x = 1 }\n\n'
                                     '[[package]]\nname = "libc"\nversion = "0.2.150"\n')
    (root / "yarn.lock").write_bytes(b'# yarn lockfile v1\n\n\x00\xff garbage here:\n  version "\n\n'
                                     b'lodash@^4.17.15:\n  version "4.17.15"\n')
    doc = _inventory(f"dir:{root}")
    assert _names(doc) == [("libc", "0.2.150"), ("lodash", "4.17.15"), ("requests", "2.19.0")]
    warnings = doc["inventory"]["warnings"]
    for name in ("poetry.lock", "Cargo.lock", "yarn.lock"):
        assert any(w.startswith(f"{name}: entry with a malformed name or version skipped") for w in warnings), \
            (name, warnings)


# --------------------------------------------------------------------------- bounded memory


def test_a_layer_of_too_many_entries_is_refused_and_named_the_others_kept(tmp_path: Path) -> None:
    """Each tar entry costs a few hundred bytes of file index: a 45 MB gzip of empty-file headers holds
    5 million of them (2 GB of memory). The entry bound per layer refuses such a layer by name, like the
    byte and time bounds, and the other layers' inventory is kept."""
    many = [(f"d{i % 10}/f{i}", "") for i in range(1500)]
    target = _archive(tmp_path, [("etc/os-release", ALPINE), ("lib/apk/db/installed", APK)], many)
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "-f", "json", "--no-cache"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CONTAINERGUARD_MAX_LAYER_ENTRIES": "1000"})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert _names(doc) == [("musl", "1.2.4-r2")]
    (refused,) = [w for w in doc["inventory"]["warnings"] if "refused" in w]
    assert refused.startswith("layer 1 (") and "more than 1000 tar entries" in refused
    assert "CONTAINERGUARD_MAX_LAYER_ENTRIES" in refused and "Traceback" not in proc.stderr
    # under the bound the same layer is read
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "-f", "json", "--no-cache"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CONTAINERGUARD_MAX_LAYER_ENTRIES": "1600"})
    assert not [w for w in json.loads(proc.stdout)["inventory"]["warnings"] if "refused" in w]


# --------------------------------------------------------------------------- OCI artifacts that are no image


def _helm_chart_layout(root: Path) -> Path:
    """An OCI layout holding a Helm chart as Helm 3 pushes it: an OCI artifact, no container image."""
    import hashlib

    def blob(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (root / "blobs/sha256").mkdir(parents=True, exist_ok=True)
        (root / "blobs/sha256" / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    chart = reg.compress(reg.tar_bytes([("mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 0.1.0\n")]),
                         "gzip")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                   **blob(b'{"apiVersion":"v2","name":"mychart","version":"0.1.0"}')},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", **blob(chart)}]}).encode()
    reg.write_oci_layout(root, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(manifest)}], "1")
    return root


def test_an_oci_artifact_is_named_as_such_from_a_layout_and_a_real_registry(tmp_path: Path) -> None:
    layout = _helm_chart_layout(tmp_path / "chart")
    registry = reg.Registry.start(tmp_path / "registry", auth=False)
    try:
        pushed = registry.push(f"oci:{layout}:1", "cg-r2scan/chart:0.1.0")
        for target, extra in ((f"oci:{layout}:1", ()), (f"registry:{pushed}", ("--insecure",))):
            proc = _sbom(target, *extra)
            assert proc.returncode == 2, (target, proc.stderr)
            assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
            assert "not a container image (an OCI artifact whose config is " \
                   "'application/vnd.cncf.helm.config.v1+json')" in proc.stderr, proc.stderr
    finally:
        registry.stop()


def _peak_rss_mb(cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd`` from a fresh interpreter that reports its one child's peak RSS (MB)."""
    probe = ("import json, resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "print(json.dumps([p.returncode, p.stdout, p.stderr,"
             " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))\n")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, timeout=300, check=True)
    rc, stdout, stderr, peak = json.loads(out.stdout)
    return subprocess.CompletedProcess(cmd, rc, stdout, stderr), peak


def test_zip_archives_with_a_huge_central_directory_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """zipfile reads a jar's or egg's whole central directory, at about ten times its size in memory (an
    86 MB jar of a million empty entries took 590 MB): one over 16 MiB is a named skip; other archives of
    the same image are read."""
    import zipfile

    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    site = root / "usr/lib/python3/dist-packages"
    site.mkdir(parents=True)
    for path in (root / "opt/huge.jar", site / "huge-1.0-py3.11.egg"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: huge\n"
                        "Implementation-Version: 6.6\n")
            zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: huge\nVersion: 6.6\n")
            for i in range(240_000):
                zf.writestr(f"com/example/generated/Class{i:032d}.class", b"")
    with zipfile.ZipFile(root / "opt/small.jar", "w") as zf:
        zf.writestr("META-INF/maven/org.example/small/pom.properties", "groupId=org.example\n"
                    "artifactId=small\nversion=1.2.3\n")
    proc, peak = _peak_rss_mb([sys.executable, "-m", "containerguard.cli.main", "sbom", f"dir:{root}", "-f", "json",
                               "--no-cache", "-q"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert _names(doc) == [("org.example:small", "1.2.3")]
    warnings = doc["inventory"]["warnings"]
    for where in ("opt/huge.jar", "usr/lib/python3/dist-packages/huge-1.0-py3.11.egg"):
        assert any(w.startswith(where) and "central directory of" in w and "over the 16777216-byte bound" in w
                   for w in warnings), (where, warnings)
    assert peak < 150, f"peak RSS {peak:.0f} MB"


def test_a_layout_of_several_images_without_platforms_asks_for_a_tag(tmp_path: Path) -> None:
    """skopeo writes one layout for several tags; without a tag, the first image for the platform was
    scanned silently (and with no platform in index.json the error said 'available: none')."""
    root = tmp_path / "layout"
    descs = []
    for tag, osrel in (("alpine", ALPINE), ("debian", DEBIAN)):
        desc = reg.write_oci_image(root, [reg.tar_bytes([("etc/os-release", osrel)])])
        desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
        descs.append(desc)
    reg.write_oci_layout(root, descs, None)
    proc = _sbom(f"oci:{root}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "lists 2 images for linux/amd64: name one by its tag (tags: alpine, debian)" in proc.stderr
    assert _inventory(f"oci:{root}:debian")["os"]["family"] == "debian"
    # the same layout as an oci-archive: the tag is given the same way
    archive = tmp_path / "layout.tar"
    with tarfile.open(archive, "w") as tf:
        for p in sorted(root.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(root)), recursive=False)
    proc = _sbom(f"oci-archive:{archive}")
    assert proc.returncode == 2 and "name one by its tag (tags: alpine, debian)" in proc.stderr, proc.stderr
    assert _inventory(f"oci-archive:{archive}:alpine")["os"]["family"] == "alpine"
