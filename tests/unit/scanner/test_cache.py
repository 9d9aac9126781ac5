"""The layer cache: round trip, damaged entries, LRU eviction under a size cap, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from containerguard.analyzer.base import AnalysisResult
from containerguard.model import Finding, FindingKind, Layer, OSInfo, Package, Severity
from containerguard.scanner.cache import LayerCache, layer_key
from containerguard.scanner.inventory import decode_record, encode_record
from containerguard.scanner.walker import LayerRecord


def _record() -> LayerRecord:
    pkg = Package(name="bash", version="5.2", type="deb", purl="pkg:deb/debian/bash@5.2", arch="amd64",
                  locations=("var/lib/dpkg/status",), epoch=1, licenses=("GPL-3",), metadata={"k": "v"})
    finding = Finding(kind=FindingKind.SECRET, id="aws-key", title="AWS key", severity=Severity.HIGH,
                      path="etc/x", line=3, package=pkg, layer=Layer(index=0, digest="sha256:" + "0" * 64),
                      extra={"n": 1, "l": [1, 2]})
    return LayerRecord(
        files={"var/lib/dpkg/status": ("f", 0o100644, 10, ""), "etc/os-release": ("l", 0o120777, 0, "../usr/lib/os-release")},
        whiteouts=["gone"], opaques=["dir"], links=["etc/os-release"], warnings=["w"],
        results={"var/lib/dpkg/status": AnalysisResult(packages=[pkg], os=OSInfo(family="debian", version="12"),
                                                       os_priority=5, findings=[finding], warnings=["x"])})


def test_record_round_trip_through_the_cache(tmp_path: Path) -> None:
    c = LayerCache(tmp_path)
    key = layer_key("sha256:" + "1" * 64, [("dpkg", 1), ("os", 2)])
    assert key == layer_key("sha256:" + "1" * 64, [("os", 2), ("dpkg", 1)])
    assert key != layer_key("sha256:" + "1" * 64, [("os", 3), ("dpkg", 1)])  # analyzer versions are in the key
    rec = _record()
    c.put(key, encode_record(rec))
    back = decode_record(c.get(key))
    assert back == rec
    assert list((tmp_path / "tmp").iterdir()) == []


def test_damaged_entry_is_a_miss_and_removed(tmp_path: Path) -> None:
    c = LayerCache(tmp_path)
    c.put("ab" * 32, {"x": 1})
    entry = next((tmp_path / "layers").rglob("*.json"))
    entry.write_bytes(entry.read_bytes()[:10])
    assert c.get("ab" * 32) is None and not entry.exists()
    c.put("cd" * 32, {"x": 1})
    other = next((tmp_path / "layers").rglob("cdcd*.json"))
    other.rename(other.with_name("ef" * 32 + ".json"))  # an entry under the wrong key is not trusted
    assert c.get("ef" * 32) is None


def test_lru_eviction_keeps_the_cache_under_its_cap(tmp_path: Path) -> None:
    c = LayerCache(tmp_path, max_bytes=30_000)
    payload = "x" * 9_000
    for i in range(3):
        c.put(f"{i:064x}", payload)
        time.sleep(0.02)
    assert c.get(f"{0:064x}") == payload  # touch the oldest: now the most recently used
    time.sleep(0.02)
    c.put(f"{3:064x}", payload)
    assert c.info()["bytes"] <= 30_000
    assert c.get(f"{0:064x}") is not None and c.get(f"{1:064x}") is None


def test_blob_store_verifies(tmp_path: Path) -> None:
    import hashlib

    c = LayerCache(tmp_path)
    data = b'{"config": 1}'
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    c.put_blob(d, data)
    assert c.get_blob(d) == data
    (tmp_path / "blobs/sha256" / d.split(":")[1]).write_bytes(b"tampered")
    assert c.get_blob(d) is None
    assert c.get_blob("sha256:../../etc/passwd") is None


def _writer(root: str, n: int) -> None:
    c = LayerCache(root)
    big = {"files": [[f"p{i}", "f", 420, i, ""] for i in range(20_000)]}
    for i in range(n):
        c.put("aa" * 32, big)
        got = c.get("aa" * 32)
        assert got is None or got == big, "torn read"


def test_concurrent_writers_never_tear_entries(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 5)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    entry = next((tmp_path / "layers").rglob("*.json"))
    assert len(json.loads(entry.read_text())["value"]["files"]) == 20_000
    assert os.listdir(tmp_path / "tmp") == []


def test_clean(tmp_path: Path) -> None:
    c = LayerCache(tmp_path)
    c.put("01" * 32, [1])
    assert c.info()["entries"] == 1
    assert c.clean()["entries"] == 1
    assert c.info()["entries"] == 0


def test_a_deeply_nested_entry_is_a_miss(tmp_path: Path) -> None:
    c = LayerCache(tmp_path)
    key = "ab" * 32
    c.put(key, {"x": 1})
    entry = next((tmp_path / "layers").rglob(f"{key}.json"))
    entry.write_bytes(b"[" * 200_000)
    assert c.get(key) is None and not entry.exists()
