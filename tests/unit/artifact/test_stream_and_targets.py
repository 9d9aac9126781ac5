"""Streams (compression sniffing, digests, bomb caps), target parsing and manifest parsing."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import pytest
import zstandard

from containerguard.artifact import parse_target
from containerguard.artifact.manifest import Index, Manifest, parse_config, parse_manifest, select_platform
from containerguard.artifact.registry import parse_challenge, split_reference
from containerguard.artifact.stream import DigestReader, decompressed, drain
from containerguard.errors import ArchiveError, ArtifactError, DigestMismatchError, UsageError
from containerguard.model import ImageRef

DATA = b"hello layer " * 10_000


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("blob", [DATA, gzip.compress(DATA), gzip.compress(DATA[:5000]) + gzip.compress(DATA[5000:]),
                                  zstandard.ZstdCompressor().compress(DATA), gzip.compress(DATA) + b"\0" * 1024])
def test_decompressed_sniffs_and_verifies(blob: bytes) -> None:
    s = decompressed(io.BytesIO(blob), "t", diff_id=sha(DATA))
    assert s.read() == DATA


def test_diff_id_mismatch_and_truncation() -> None:
    with pytest.raises(DigestMismatchError, match="uncompressed"):
        drain(decompressed(io.BytesIO(gzip.compress(DATA)), "t", diff_id=sha(b"other")))
    with pytest.raises(ArchiveError, match="truncated gzip"):
        drain(decompressed(io.BytesIO(gzip.compress(DATA)[:100]), "t"))
    with pytest.raises(ArchiveError, match="garbage after"):
        drain(decompressed(io.BytesIO(gzip.compress(DATA) + b"junk"), "t"))


def test_blob_digest_and_size() -> None:
    blob = gzip.compress(DATA)
    assert DigestReader(io.BytesIO(blob), sha(blob), "b", size=len(blob)).read() == blob
    with pytest.raises(DigestMismatchError):
        DigestReader(io.BytesIO(blob), sha(b"x"), "b").read()
    with pytest.raises(DigestMismatchError, match="more data than"):
        DigestReader(io.BytesIO(blob), sha(blob), "b", size=10).read()
    with pytest.raises(DigestMismatchError, match="invalid digest"):
        DigestReader(io.BytesIO(blob), "md5:abc", "b")


def test_bomb_caps() -> None:
    zeros = gzip.compress(b"\0" * (4 << 20))
    with pytest.raises(ArchiveError, match="decompression bomb"):
        drain(decompressed(io.BytesIO(zeros), "t", limits={"min_bytes": 1 << 20, "ratio": 100}))
    with pytest.raises(ArchiveError, match="byte bound per layer"):
        drain(decompressed(io.BytesIO(zeros), "t", limits={"max_bytes": 1 << 20}))
    with pytest.raises(ArchiveError, match="time bound per layer"):
        drain(decompressed(io.BytesIO(zeros), "t", limits={"max_seconds": -1}))
    assert drain(decompressed(io.BytesIO(zeros), "t")) == 4 << 20  # under the default minimum


def test_parse_target_forms(tmp_path) -> None:
    assert parse_target("docker:alpine:3.19") == ImageRef("docker", "alpine:3.19")
    assert parse_target("docker-archive:/x/y.tar") == ImageRef("docker-archive", "/x/y.tar")
    assert parse_target("oci:/some/dir:v1") == ImageRef("oci", "/some/dir", "v1")
    d = tmp_path / "a:b"
    d.mkdir()
    assert parse_target(f"oci:{d}") == ImageRef("oci", str(d))
    assert parse_target("registry:ghcr.io/o/r@sha256:" + "a" * 64).scheme == "registry"
    assert parse_target("dir:.") == ImageRef("dir", ".")
    assert parse_target("nginx:1.25") == ImageRef("auto", "nginx:1.25")
    assert parse_target("localhost:5000/x") == ImageRef("auto", "localhost:5000/x")
    for bad in ("", "docker:", "oci:"):
        with pytest.raises(UsageError):
            parse_target(bad)


def test_split_reference() -> None:
    assert split_reference("alpine") == ("registry-1.docker.io", "library/alpine", "latest")
    assert split_reference("docker.io/library/alpine:3.19") == ("registry-1.docker.io", "library/alpine", "3.19")
    assert split_reference("127.0.0.1:5000/a/b:t") == ("127.0.0.1:5000", "a/b", "t")
    assert split_reference("localhost/x@sha256:" + "b" * 64)[2] == "sha256:" + "b" * 64
    for bad in ("Upper/Case", "x@sha256:zz", "h.io/x:bad tag", "h.io/../x"):
        with pytest.raises(ArtifactError):
            split_reference(bad)


def test_parse_challenge() -> None:
    scheme, p = parse_challenge('Bearer realm="https://auth.io/token",service="reg",scope="repository:a/b:pull"')
    assert scheme == "bearer" and p == {"realm": "https://auth.io/token", "service": "reg", "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def _desc(d: bytes, **kw) -> dict:
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(d), "size": len(d), **kw}


def test_manifest_index_and_platforms() -> None:
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": _desc(b"c"), "layers": [_desc(b"l1"), _desc(b"l2")]}
    parsed = parse_manifest(json.dumps(m).encode())
    assert isinstance(parsed, Manifest) and len(parsed.layers) == 2
    idx = {"schemaVersion": 2, "manifests": [
        _desc(b"a", platform={"os": "linux", "architecture": "amd64"}),
        _desc(b"b", platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
        _desc(b"c", platform={"os": "unknown", "architecture": "unknown"})]}
    parsed_idx = parse_manifest(json.dumps(idx).encode(), "application/vnd.oci.image.index.v1+json")
    assert isinstance(parsed_idx, Index)
    assert select_platform(parsed_idx, "linux/arm64").digest == sha(b"b")
    assert select_platform(parsed_idx, "linux/arm64/v8").digest == sha(b"b")
    with pytest.raises(ArtifactError, match="no image for platform linux/arm/v7"):
        select_platform(parsed_idx, "linux/arm/v7")
    for bad in (b"[]", b"{", b'{"schemaVersion": 1}', json.dumps({**m, "layers": [{"digest": "sha256:zz"}]}).encode(),
                json.dumps({**m, "config": {**_desc(b"c"), "size": -5}}).encode()):
        with pytest.raises(ArtifactError):
            parse_manifest(bad)


def test_config_history_commands() -> None:
    cfg = parse_config(json.dumps({"rootfs": {"diff_ids": [sha(b"1"), sha(b"2")]}, "history": [
        {"created_by": "ADD base"}, {"created_by": "ENV X=1", "empty_layer": True}, {"created_by": "RUN x"}]}).encode())
    assert cfg.layer_commands() == ["ADD base", "RUN x"]
    with pytest.raises(ArtifactError, match="diff_ids"):
        parse_config(b'{"rootfs": {}}')


def test_docker_manifest_list_is_an_index() -> None:
    lst = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
           "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": sha(b"x"),
                          "size": 1, "platform": {"os": "linux", "architecture": "amd64"}}]}
    parsed = parse_manifest(json.dumps(lst).encode())
    assert isinstance(parsed, Index)
    assert select_platform(parsed, "linux/amd64").digest == sha(b"x")


def test_threaded_reader_returns_the_same_bytes_in_any_read_sizes() -> None:
    big = bytes(range(256)) * 20_000  # 5 MB: several chunks through the read-ahead queue
    s = decompressed(io.BytesIO(gzip.compress(big)), "t", diff_id=sha(big))
    got, n = [], 1
    while b := s.read(n):
        got.append(b)
        n = n * 7 % 3_000_001 + 1  # odd sizes that straddle chunk boundaries
    assert b"".join(got) == big
    s.close()


def test_threaded_reader_stops_its_thread_when_closed_early() -> None:
    import threading

    class Raw(io.BytesIO):
        closed_by_reader = False

        def close(self) -> None:
            Raw.closed_by_reader = True
            super().close()

    big = b"x" * (40 << 20)
    s = decompressed(Raw(gzip.compress(big, 1)), "t", diff_id=sha(big))
    assert s.read(10) == b"x" * 10
    s.close()
    assert Raw.closed_by_reader
    assert not [t for t in threading.enumerate() if t.name == "layer-reader"]
