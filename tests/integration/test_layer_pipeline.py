"""The layer pipeline (read-ahead inflate thread, digests hashed in a third thread, tar walker) on broken
layers through the ``sbom`` CLI: a failure anywhere in a multi-megabyte layer gives one clear line and exit
2, leaves no layer cache entry (a partial walk is never stored), and a later scan of the intact image is
complete. In-process, no pipeline thread outlives its scan, failed or not.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import registry as reg

from containerguard.errors import ArchiveError, DigestMismatchError
from containerguard.scanner.cache import LayerCache
from containerguard.scanner.inventory import build_inventory

OS_RELEASE = 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
STATUS = ("Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n"
          "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n")


def _layer() -> bytes:
    """A tar of ~12 MB: the OS first, incompressible data in the middle (several read-ahead chunks), the
    dpkg database last, so a failure in the middle comes after files were analysed and before others."""
    return reg.tar_bytes([("etc/os-release", OS_RELEASE), *[(f"opt/blob{i}", os.urandom(3 << 20)) for i in range(4)],
                          ("var/lib/dpkg/status", STATUS)])


def _layout(root: Path, blob: bytes, diff_id: str) -> str:
    """An OCI layout of one gzip layer ``blob`` whose manifest digest matches it and config claims ``diff_id``."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": reg._blob(root, cfg), "size": len(cfg)},
                           "layers": [{"mediaType": reg.LAYER_MT["gzip"], "digest": reg._blob(root, blob),
                                       "size": len(blob)}]}).encode()
    reg.write_oci_layout(root, [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "digest": reg._blob(root, manifest), "size": len(manifest)}])
    return f"oci:{root}:1"


def _sbom(target: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", "sbom", target, "-f", "json", "-q",
                           "--cache-dir", str(cache)], capture_output=True, text=True, timeout=300)


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "layers").rglob("*.json")) if (cache / "layers").exists() else []


@pytest.fixture(scope="module")
def layer() -> tuple[bytes, bytes]:
    raw = _layer()
    return raw, gzip.compress(raw, 1)


def _broken_cases(root: Path, raw: bytes, gz: bytes) -> list[tuple[str, str, str]]:
    """(name, target, expected text of the one-line error)"""
    mid = len(gz) * 3 // 5
    flipped = bytearray(gz)
    for i in range(mid, mid + 64):
        flipped[i] ^= 0xA5
    tampered = root / "tampered"
    target_tampered = _layout(tampered, gz, reg.sha(raw))
    blob = next(p for p in (tampered / "blobs/sha256").iterdir() if p.stat().st_size == len(gz))
    blob.write_bytes(bytes(flipped))  # the blob no longer matches the digest its manifest names
    return [
        ("truncated", _layout(root / "truncated", gz[:mid], reg.sha(raw)), "truncated gzip stream"),
        ("corrupt", _layout(root / "corrupt", bytes(flipped), reg.sha(raw)), "gzip stream"),
        ("diff_id", _layout(root / "diff-id", gz, reg.sha(raw + b"\0" * 512)), "(uncompressed) digest mismatch"),
        ("blob", target_tampered, "digest mismatch"),
    ]


def test_broken_layers_give_one_line_and_no_cache_entry(tmp_path: Path, layer: tuple[bytes, bytes]) -> None:
    raw, gz = layer
    for name, target, expected in _broken_cases(tmp_path, raw, gz):
        cache = tmp_path / f"cache-{name}"
        proc = _sbom(target, cache)
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr)
        assert proc.stdout == "", name
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, (name, proc.stderr)
        assert expected in proc.stderr and "Traceback" not in proc.stderr, (name, proc.stderr)
        assert _entries(cache) == [], f"{name}: a partial layer was cached"
        assert not list((cache / "tmp").iterdir()), f"{name}: temporary files left behind"
    # the intact image then scans completely, stores its layer, and reads the same from the cache
    cache = tmp_path / "cache-ok"
    good = _layout(tmp_path / "good", gz, reg.sha(raw))
    cold = _sbom(good, cache)
    assert cold.returncode == 0, cold.stderr
    doc = json.loads(cold.stdout)
    assert doc["os"]["family"] == "debian"
    assert sorted(p["name"] for p in doc["packages"]) == ["base-files", "tzdata"]
    assert len(_entries(cache)) == 1
    warm = _sbom(good, cache)
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout)["packages"] == doc["packages"]


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("layer-reader", "layer-hasher")]


def test_no_pipeline_thread_outlives_a_scan(tmp_path: Path, layer: tuple[bytes, bytes]) -> None:
    raw, gz = layer
    errors = {"truncated": ArchiveError, "corrupt": ArchiveError, "diff_id": DigestMismatchError,
              "blob": DigestMismatchError}
    for name, target, _ in _broken_cases(tmp_path, raw, gz):
        cache = LayerCache(tmp_path / f"c-{name}")
        with pytest.raises(errors[name]):
            build_inventory(target, cache=cache)
        assert _entries(cache.root) == [], name
        _settle()
        assert _pipeline_threads() == [], name
    inv = build_inventory(_layout(tmp_path / "good", gz, reg.sha(raw)), cache=None)
    assert {p.name for p in inv.packages} == {"base-files", "tzdata"}
    _settle()
    assert _pipeline_threads() == []


def _settle() -> None:
    """Threads told to stop finish within a moment; wait for them (bounded) before looking."""
    for t in threading.enumerate():
        if t.name in ("layer-reader", "layer-hasher"):
            t.join(5.0)
