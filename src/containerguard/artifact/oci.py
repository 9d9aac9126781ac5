"""Local image files: ``docker-archive:`` (docker save), ``oci:`` (OCI image layout) and ``oci-archive:``.

Archives are indexed by reading tar headers only (tarfile seeks over member data), so a warm scan reads
nothing but the manifest and config; layer members are then read as file slices, never extracted.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from containerguard.artifact.image import BlobImage, build_layers, build_meta, layers_from_manifest
from containerguard.artifact.manifest import (
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    Index,
    Manifest,
    parse_config,
    parse_manifest,
    pick_from_layout_index,
    select_platform,
)
from containerguard.artifact.stream import ReaderBase, as_io, parse_digest, verify_bytes
from containerguard.errors import ArchiveError, ArtifactError
from containerguard.model import ImageRef, Layer


def _check_regular(path: Path) -> None:
    """An archive target must be a regular file: a directory, device or FIFO is named as such."""
    if not path.is_file():
        raise ArtifactError(f"{path}: " + ("not a regular file" if os.path.lexists(path) else "no such file"))


class FileSlice(ReaderBase):
    """``size`` bytes of ``path`` from ``offset``: a tar member read in place."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._fh.seek(offset)
        self._left = size

    def _read(self, n: int) -> bytes:
        if self._left <= 0:
            return b""
        data = self._fh.read(min(n, self._left))
        if not data:
            raise ArchiveError("archive truncated inside a layer")
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fh.close()
        super().close()


def _member_name(name: str) -> str:
    return posixpath.normpath(name.lstrip("/"))


#: symbolic links followed inside an archive before giving up (a loop)
MAX_ARCHIVE_LINK_HOPS = 16


class TarIndex:
    """Member name -> (data offset, size) of an uncompressed tar, by reading headers only.

    Links between members are followed inside the archive: ``docker save`` (Docker 20.10 and earlier)
    writes a layer whose content equals an earlier layer's as a symlink ``ID/layer.tar ->
    ../OTHER/layer.tar``, and other tools store a repeated blob as a hard link. A link that leaves the
    archive, loops or names no regular member is a missing member, never a file of the host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.members: dict[str, tuple[int, int]] = {}
        self._links: dict[str, str] = {}  # member name -> the member name it links to (archive-relative)
        try:
            with open(path, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b":
                    raise ArchiveError(f"{path}: a compressed archive; decompress it first (gunzip)")
                fh.seek(0)
                with tarfile.open(fileobj=fh, mode="r:") as tf:
                    for ti in tf:
                        name = _member_name(ti.name)
                        if ti.isreg():
                            self.members[name] = (ti.offset_data, ti.size)
                            self._links.pop(name, None)
                        elif ti.issym() or ti.islnk():
                            base = "" if ti.islnk() or ti.linkname.startswith("/") else posixpath.dirname(name)
                            self._links[name] = posixpath.normpath(posixpath.join(base, ti.linkname.lstrip("/")))
                            self.members.pop(name, None)
                        tf.members = []  # type: ignore[attr-defined]
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArchiveError(f"{path}: not a readable tar archive: {str(exc)[:160]}") from None
        for name in list(self._links):
            target = self._resolve(name)
            if target is not None:
                self.members[name] = self.members[target]

    def _resolve(self, name: str) -> str | None:
        """The regular member a link member leads to, or None (outside the archive, a loop, nothing)."""
        for _ in range(MAX_ARCHIVE_LINK_HOPS):
            if name in self.members:
                return name
            nxt = self._links.get(name)
            if nxt is None or nxt == ".." or nxt.startswith("../"):
                return None
            name = nxt
        return None

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> IO[bytes]:
        try:
            off, size = self.members[name]
        except KeyError:
            raise ArtifactError(f"{self.path}: {name} missing from the archive") from None
        return as_io(FileSlice(self.path, off, size))

    def read(self, name: str, cap: int) -> bytes:
        _off, size = self.members.get(name, (0, -1))
        if size < 0:
            raise ArtifactError(f"{self.path}: {name} missing from the archive")
        if size > cap:
            raise ArtifactError(f"{self.path}: {name} too large ({size} bytes)")
        with self.open(name) as fh:
            return fh.read()


class _Blobs:
    """Blob access for an OCI layout held in a directory or a tar index."""

    def __init__(self, where: str, exists: Callable[[str], bool], opener: Callable[[str], IO[bytes]],
                 reader: Callable[[str, int], bytes], size: Callable[[str], int] | None = None) -> None:
        self.where = where
        self._exists = exists
        self._open = opener
        self._read = reader
        self._size = size

    def check_layers(self, layers: list[Layer]) -> None:
        """Every layer blob is there with the size its manifest says, checked when the image is opened:
        a layer whose analysis the cache already holds is still refused when its blob is gone or cut."""
        for layer in layers:
            if not layer.digest:
                continue
            name = self.name(layer.digest)
            if not self._exists(name):
                raise ArtifactError(f"{self.where}: layer {layer.index} blob {layer.digest} missing")
            if self._size is not None and layer.size and self._size(name) != layer.size:
                raise ArtifactError(f"{self.where}: layer {layer.index} blob {layer.digest} is "
                                    f"{self._size(name)} bytes, its manifest says {layer.size}")

    @staticmethod
    def name(digest: str) -> str:
        algo, hexpart = parse_digest(digest)
        return f"blobs/{algo}/{hexpart}"

    def read(self, digest: str, cap: int, what: str) -> bytes:
        name = self.name(digest)
        if not self._exists(name):
            raise ArtifactError(f"{self.where}: {what} blob {digest} missing")
        data = self._read(name, cap)
        verify_bytes(data, digest, what)
        return data

    def open(self, digest: str) -> IO[bytes]:
        name = self.name(digest)
        if not self._exists(name):
            raise ArtifactError(f"{self.where}: layer blob {digest} missing")
        return self._open(name)


def _resolve_layout(ref: ImageRef, blobs: _Blobs, index_bytes: bytes, tag: str | None, platform: str,
                    extra_tags: tuple[str, ...] = ()) -> BlobImage:
    what = f"{blobs.where}: index.json"
    top = parse_manifest(index_bytes, what=what)
    if not isinstance(top, Index):
        raise ArtifactError(f"{what} is not an image index")
    desc = pick_from_layout_index(top, tag, platform, what)
    seen = 0
    node: Manifest | Index
    while True:
        seen += 1
        if seen > 4:
            raise ArtifactError(f"{blobs.where}: indexes nested too deeply")
        node = parse_manifest(blobs.read(desc.digest, MAX_MANIFEST_BYTES, "manifest"), desc.media_type,
                              what=f"{blobs.where}: manifest {desc.digest[:19]}")
        if isinstance(node, Manifest):
            break
        desc = select_platform(node, platform, f"{blobs.where}: index {desc.digest[:19]}")
    cfg_bytes = blobs.read(node.config.digest, MAX_CONFIG_BYTES, "config")
    config = parse_config(cfg_bytes, f"{blobs.where}: image config", node.config.media_type)
    layers = layers_from_manifest(node, config, blobs.where)
    blobs.check_layers(list(layers))
    tags = tuple(t for t in (desc.annotations.get("io.containerd.image.name", ""),) if t) or extra_tags
    meta = build_meta(config, node.config.digest, tags, (desc.digest,))
    return BlobImage(ref, meta, layers, lambda layer: blobs.open(layer.digest), config_bytes=cfg_bytes)


def open_oci_dir(ref: ImageRef, *, platform: str = "linux/amd64") -> BlobImage:
    root = Path(ref.ref)
    if not (root / "index.json").is_file():
        raise ArtifactError(f"{root}: not an OCI image layout (no index.json)")

    def reader(name: str, cap: int) -> bytes:
        p = root / name
        if p.stat().st_size > cap:
            raise ArtifactError(f"{p}: too large")
        return p.read_bytes()

    def opener(name: str) -> IO[bytes]:
        return open(root / name, "rb")

    blobs = _Blobs(str(root), lambda n: (root / n).is_file(), opener, reader, lambda n: (root / n).stat().st_size)
    return _resolve_layout(ref, blobs, reader("index.json", MAX_MANIFEST_BYTES), ref.tag, platform)


def open_oci_archive(ref: ImageRef, *, platform: str = "linux/amd64") -> BlobImage:
    path = Path(ref.ref)
    _check_regular(path)
    idx = TarIndex(path)
    if not idx.has("index.json"):
        raise ArtifactError(f"{path}: not an OCI archive (no index.json)")
    blobs = _Blobs(str(path), idx.has, idx.open, idx.read, lambda n: idx.members[n][1])
    return _resolve_layout(ref, blobs, idx.read("index.json", MAX_MANIFEST_BYTES), ref.tag, platform)


def open_docker_archive(ref: ImageRef, *, platform: str = "linux/amd64",
                        on_close: Callable[[], None] | None = None) -> BlobImage:
    """A ``docker save`` tar: manifest.json (legacy, or Docker 25+'s beside an OCI index.json)."""
    path = Path(ref.ref)
    _check_regular(path)
    idx = TarIndex(path)
    if not idx.has("manifest.json"):
        if idx.has("index.json"):
            return open_oci_archive(ref, platform=platform)
        raise ArtifactError(f"{path}: not a docker archive (no manifest.json)")
    try:
        entries: Any = json.loads(idx.read("manifest.json", MAX_MANIFEST_BYTES))
    except (ValueError, RecursionError) as exc:
        raise ArtifactError(f"{path}: manifest.json is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise ArtifactError(f"{path}: manifest.json lists no image")
    entry = entries[0]
    if ref.tag:
        match = [e for e in entries if isinstance(e, dict) and ref.tag in (e.get("RepoTags") or [])]
        if not match:
            raise ArtifactError(f"{path}: no image tagged {ref.tag!r}")
        entry = match[0]
    cfg_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(cfg_name, str) or not isinstance(layer_names, list) or not all(
            isinstance(n, str) for n in layer_names):
        raise ArtifactError(f"{path}: manifest.json entry lacks Config/Layers")
    cfg_bytes = idx.read(_member_name(cfg_name), MAX_CONFIG_BYTES)
    cfg_digest = "sha256:" + hashlib.sha256(cfg_bytes).hexdigest()
    # Docker 25+ names blobs by digest: verify the config is the one it claims to be
    if cfg_name.startswith("blobs/sha256/") and cfg_digest.split(":")[1] != cfg_name.rsplit("/", 1)[1]:
        raise ArtifactError(f"{path}: config blob {cfg_name} does not match its digest")
    config = parse_config(cfg_bytes, f"{path}: config")
    specs: list[tuple[str, int, str]] = []
    names: list[str] = []
    for n in layer_names:
        name = _member_name(n)
        if not idx.has(name):
            raise ArtifactError(f"{path}: layer {n} missing from the archive")
        names.append(name)
        digest = ""
        if name.startswith("blobs/sha256/"):
            digest = "sha256:" + name.rsplit("/", 1)[1]
        specs.append((digest, idx.members[name][1], "application/vnd.docker.image.rootfs.diff.tar"))
    layers = build_layers(config, specs, str(path))
    tags = entry.get("RepoTags") or []
    meta = build_meta(config, cfg_digest, [t for t in tags if isinstance(t, str)])
    by_index = dict(enumerate(names))

    def opener(layer: Layer) -> IO[bytes]:
        return idx.open(by_index[layer.index])

    return BlobImage(ref, meta, layers, opener, on_close, config_bytes=cfg_bytes)
