"""Hostile and broken images through the real entry points (``build_inventory`` and the ``sbom`` CLI).

Each case gives a clear one-line error or a counted warning, never a traceback or a hang, and nothing is
written outside the cache directory (checked in a subprocess whose TMPDIR, HOME and working directory are
watched empty directories).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.errors import ArchiveError, ArtifactError, DigestMismatchError
from containerguard.model import Inventory
from containerguard.scanner.inventory import build_inventory

ALPINE = 'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'
DEBIAN = 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'


def _scan(path: Path) -> Inventory:
    return build_inventory(f"docker-archive:{path}", cache=None)


def _archive(tmp_path: Path, *layers: list[tuple], name: str = "img.tar") -> Path:
    return reg.write_docker_archive(tmp_path / name, [reg.tar_bytes(list(entries)) for entries in layers])


def _warned(inv: Inventory, text: str) -> bool:
    return any(text in w for w in inv.warnings)


def test_dotdot_and_absolute_names(tmp_path: Path) -> None:
    inv = _scan(_archive(tmp_path, [("../../evil-dotdot", "x"), ("a/../../evil-dotdot2", "x"),
                                    ("/etc/os-release", ALPINE)]))
    assert _warned(inv, "2 tar entries with '..' components skipped")
    assert _warned(inv, "1 tar entries with absolute names made relative")
    assert inv.os.family == "alpine"  # the absolute entry is read as etc/os-release inside the image


def test_symlinks_resolve_inside_the_root_only(tmp_path: Path) -> None:
    # a link that climbs out of the root is clamped at the root: here it points back at itself (a loop),
    # so no OS is found, and the host's own /etc/os-release (Debian) is never read
    inv = _scan(_archive(tmp_path, [("etc", tarfile.DIRTYPE), ("etc/os-release", tarfile.SYMTYPE, "../../../../../etc/os-release")]))
    assert inv.os.family == "unknown"
    assert _warned(inv, "1 symlinks pointing outside the image root")
    # a link into the image, across layers (target in the lower layer), is followed
    inv = _scan(_archive(tmp_path, [("usr/lib/os-release", ALPINE)],
                         [("etc/os-release", tarfile.SYMTYPE, "../usr/lib/os-release")], name="ok.tar"))
    assert inv.os.family == "alpine"
    # an absolute link target is resolved against the image root, not the host's
    inv = _scan(_archive(tmp_path, [("usr/lib/os-release", ALPINE), ("etc/os-release", tarfile.SYMTYPE, "/usr/lib/os-release")],
                         name="abs.tar"))
    assert inv.os.family == "alpine"


def test_hardlinks(tmp_path: Path) -> None:
    inv = _scan(_archive(tmp_path, [("evil-hl", tarfile.LNKTYPE, "../../../etc/passwd"),
                                    ("usr/lib/os-release", ALPINE),
                                    ("etc/os-release", tarfile.LNKTYPE, "usr/lib/os-release")]))
    assert _warned(inv, "1 hard links to files outside the layer skipped")
    assert inv.os.family == "alpine"  # the good hard link is read through its target


def test_device_files_and_duplicates(tmp_path: Path) -> None:
    inv = _scan(_archive(tmp_path, [("dev/sda", tarfile.CHRTYPE), ("dev/fifo", tarfile.FIFOTYPE),
                                    ("etc/os-release", DEBIAN), ("etc/os-release", ALPINE)]))
    assert _warned(inv, "2 device files or FIFOs ignored")
    assert _warned(inv, "1 duplicate tar entries (the last one wins)")
    assert inv.os.family == "alpine"


def test_ten_thousand_level_deep_tree(tmp_path: Path) -> None:
    deep = "d/" * 10_000 + "f"
    inv = _scan(_archive(tmp_path, [(deep, "x"), ("d/d/shallow", "y"), ("etc/os-release", ALPINE)]))
    assert _warned(inv, "1 tar entries nested deeper than 256 levels")
    assert inv.os.family == "alpine"


def test_huge_extended_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"extended header of .* bytes refused"):
        _scan(_archive(tmp_path, [("x" * (2 << 20), "x")]))


def test_truncated_gzip_layer(tmp_path: Path) -> None:
    raw = reg.tar_bytes([("etc/os-release", ALPINE), ("opt/data", os.urandom(200_000))])
    gz = reg.compress(raw, "gzip")
    path = reg.write_docker_archive(tmp_path / "trunc.tar", [gz[: len(gz) // 2]], uncompressed=[raw])
    with pytest.raises(ArchiveError, match="truncated gzip stream"):
        _scan(path)


def test_corrupt_tar_stream(tmp_path: Path) -> None:
    garbage = os.urandom(4096)
    path = reg.write_docker_archive(tmp_path / "garbage.tar", [garbage])
    with pytest.raises(ArchiveError, match="not a tar stream"):
        _scan(path)


def _zeros_layer(how: str, size: int) -> tuple[bytes, str]:
    """A tar holding one file of ``size`` zero bytes, compressed; returns (blob, diff_id)."""
    header = tarfile.TarInfo("zeros")
    header.size = size
    head = header.tobuf(tarfile.PAX_FORMAT)
    pad = b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024
    h = hashlib.sha256(head)
    chunk = b"\0" * (1 << 20)
    if how == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [c.compress(head)]
        for _ in range(size >> 20):
            parts.append(c.compress(chunk))
            h.update(chunk)
        parts += [c.compress(pad), c.flush()]
    else:
        import zstandard

        c = zstandard.ZstdCompressor().compressobj()
        parts = [c.compress(head)]
        for _ in range(size >> 20):
            parts.append(c.compress(chunk))
            h.update(chunk)
        parts += [c.compress(pad), c.flush()]
    h.update(pad)
    return b"".join(parts), "sha256:" + h.hexdigest()


def _zeros_image(root: Path, how: str, size: int) -> Path:
    """An OCI layout: layer 0 a file of ``size`` zeros (gzip/zstd ratio above 1000:1), layer 1 a package."""
    blob, diff_id = _zeros_layer(how, size)
    pkg = reg.tar_bytes([("usr/lib/python3.11/site-packages/six-1.10.0.dist-info/METADATA",
                          reg._metadata("six", "1.10.0"))])
    pkg_gz = reg.compress(pkg, "gzip")
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [diff_id, reg.sha(pkg)]}}).encode()
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json"}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": desc["mediaType"],
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": reg._blob(root, cfg), "size": len(cfg)},
                           "layers": [{"mediaType": reg.LAYER_MT[how], "digest": reg._blob(root, blob),
                                       "size": len(blob)},
                                      {"mediaType": reg.LAYER_MT["gzip"], "digest": reg._blob(root, pkg_gz),
                                       "size": len(pkg_gz)}]}).encode()
    desc.update(digest=reg._blob(root, manifest), size=len(manifest))
    reg.write_oci_layout(root, [desc], "1")
    assert len(blob) * 1000 < size
    return root


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_huge_zero_file_is_scanned_and_a_bomb_is_refused_per_layer(tmp_path: Path, how: str) -> None:
    """A layer of zeros compressing beyond 1000:1 is legitimate (sparse disk images, preallocated files)
    and is scanned; a layer past the output bound per layer is refused by name, the other layers kept,
    and the gate counts it as an input not read."""
    root = _zeros_image(tmp_path / "zeros", how, 160 << 20)
    inv = build_inventory(f"oci:{root}:1", cache=None)
    assert [p.name for p in inv.packages] == ["six"] and not inv.warnings
    env = {**os.environ, "CONTAINERGUARD_MAX_LAYER_BYTES": str(100 << 20)}
    out = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "scan", f"oci:{root}:1", "--scanners",
                          "secret", "--fail-on", "CRITICAL"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1, out.stderr  # the refused layer is an input not read: the gate fails
    assert "layer 0 (sha256:" in out.stderr and "refused: expands beyond the 104857600 byte bound" in out.stderr
    sbom = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", f"oci:{root}:1", "-f", "json",
                           "--no-cache"], capture_output=True, text=True, env=env, timeout=300)
    assert sbom.returncode == 0, sbom.stderr
    assert [p["name"] for p in json.loads(sbom.stdout)["packages"]] == ["six"]  # layer 1 kept


def test_lying_local_layout(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    desc = reg.write_oci_image(root, [reg.tar_bytes([("etc/os-release", ALPINE)])])
    reg.write_oci_layout(root, [desc], "1")
    blob = root / "blobs/sha256" / desc["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":2 '))
    with pytest.raises(DigestMismatchError, match="manifest digest mismatch"):
        build_inventory(f"oci:{root}:1", cache=None)


def test_not_an_archive_and_bad_manifest(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(10_000))
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        _scan(junk)
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        data = b'[{"Config": 1}]'
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, __import__("io").BytesIO(data))
    with pytest.raises(ArtifactError, match=r"manifest\.json entry lacks Config/Layers"):
        _scan(bad)
    deep = tmp_path / "deep.tar"
    with tarfile.open(deep, "w") as tf:
        data = b"[" * 200_000  # under the manifest cap, deeper than the JSON parser's recursion limit
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, __import__("io").BytesIO(data))
    with pytest.raises(ArtifactError, match=r"manifest\.json is not valid JSON"):
        _scan(deep)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_cli_writes_nothing_outside_the_cache(tmp_path: Path) -> None:
    big_metadata = "Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n\n" + "x" * (9 << 20)
    hostile = _archive(tmp_path, [
        ("../../evil-dotdot", "x"), ("/tmp/evil-absolute", "x"), ("etc/evil-link", tarfile.SYMTYPE, "../../../../tmp"),
        ("etc/evil-link/evil-through-link", "x"), ("evil-hl", tarfile.LNKTYPE, "/etc/passwd"),
        ("dev/evil-dev", tarfile.CHRTYPE), ("etc/os-release", ALPINE),
        ("usr/lib/python3.11/site-packages/bigpkg-1.0.dist-info/METADATA", big_metadata),
    ])
    watched = {name: tmp_path / name for name in ("tmpdir", "home", "cwd")}
    for d in watched.values():
        d.mkdir()
    cache = tmp_path / "cache"
    env = {**os.environ, "TMPDIR": str(watched["tmpdir"]), "HOME": str(watched["home"])}
    env.pop("CONTAINERGUARD_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{hostile}",
                           "-f", "json", "--cache-dir", str(cache)], cwd=watched["cwd"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert data["os"]["family"] == "alpine"
    assert [p["name"] for p in data["packages"]] == ["bigpkg"]  # the 9 MB file was spooled and analysed
    for name, d in watched.items():
        assert _tree(d) == [], f"something was written to {name}"
    assert not any(Path(p).exists() for p in ("/tmp/evil-absolute", "/tmp/evil-through-link", "/evil-dotdot"))
    assert not any("evil" in p for p in _tree(tmp_path) if not p.startswith("img.tar"))
    # the cache holds cache entries only, and its tmp/ is empty again
    assert all(p.split("/")[0] in ("layers", "blobs", "tmp") for p in _tree(cache))
    assert _tree(cache / "tmp") == []
    assert list((cache / "layers").rglob("*.json"))


def test_cli_one_line_errors(tmp_path: Path) -> None:
    raw = reg.tar_bytes([("etc/os-release", ALPINE), ("opt/data", os.urandom(100_000))])
    gz = reg.compress(raw, "gzip")
    trunc = reg.write_docker_archive(tmp_path / "trunc.tar", [gz[: len(gz) // 3]], uncompressed=[raw])
    for target, expected in ((f"docker-archive:{trunc}", "truncated gzip stream"),
                             (f"docker-archive:{tmp_path / 'missing.tar'}", "no such file"),
                             (f"oci:{tmp_path}", "not an OCI image layout")):
        proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "--no-cache"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and expected in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_unusable_cache_directory_costs_speed_not_the_scan(tmp_path: Path) -> None:
    from containerguard.scanner.cache import LayerCache

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    inv = build_inventory(f"docker-archive:{_archive(tmp_path, [('etc/os-release', ALPINE)])}",
                          cache=LayerCache(blocker / "cache"))
    assert inv.os.family == "alpine"
    assert _warned(inv, "layer cache disabled")
