"""An image made of blobs (config + layers), whatever holds the blobs: the shared Artifact implementation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO

from containerguard.artifact.base import Artifact
from containerguard.artifact.manifest import ImageConfig, Manifest
from containerguard.artifact.stream import DigestReader, Hasher, as_io, decompressed
from containerguard.errors import ArtifactError
from containerguard.model import ImageMeta, ImageRef, Layer

#: (layer) -> the raw blob stream (not yet verified; BlobImage verifies it)
BlobOpener = Callable[[Layer], IO[bytes]]


def build_layers(config: ImageConfig, blobs: Sequence[tuple[str, int, str]], what: str) -> list[Layer]:
    """Layers from the config's diff_ids and the manifest's (digest, size, media type) list."""
    if len(blobs) != len(config.diff_ids):
        raise ArtifactError(f"{what}: manifest lists {len(blobs)} layers but the config has "
                            f"{len(config.diff_ids)} diff_ids")
    cmds = config.layer_commands()
    if len(cmds) != len(blobs):
        cmds = [""] * len(blobs)
    return [Layer(index=i, digest=d or diff_id, diff_id=diff_id, size=max(size, 0), created_by=cmd, media_type=mt)
            for i, ((d, size, mt), diff_id, cmd) in enumerate(zip(blobs, config.diff_ids, cmds, strict=True))]


def build_meta(config: ImageConfig, config_digest: str, repo_tags: Sequence[str] = (),
               repo_digests: Sequence[str] = ()) -> ImageMeta:
    return ImageMeta(id=config_digest, repo_tags=tuple(repo_tags), repo_digests=tuple(repo_digests),
                     architecture=config.architecture, os=config.os, created=config.created,
                     config=config.config, history=config.history)


def layers_from_manifest(manifest: Manifest, config: ImageConfig, what: str) -> list[Layer]:
    return build_layers(config, [(d.digest, d.size, d.media_type) for d in manifest.layers], what)


class BlobImage(Artifact):
    """Metadata known up front; each layer opened lazily through ``opener`` and verified while read:
    the blob against its digest (when it differs from the diff_id) and the uncompressed tar against the diff_id.
    """

    def __init__(self, ref: ImageRef, meta: ImageMeta, layers: Sequence[Layer], opener: BlobOpener,
                 on_close: Callable[[], None] | None = None, config_bytes: bytes | None = None) -> None:
        self.ref = ref
        self.config_bytes = config_bytes
        self._meta = meta
        self._layers = list(layers)
        self._opener = opener
        self._on_close = on_close

    def meta(self) -> ImageMeta:
        return self._meta

    def layers(self) -> Sequence[Layer]:
        return self._layers

    def open_layer(self, layer: Layer) -> IO[bytes]:
        what = f"layer {layer.index} ({(layer.digest or layer.diff_id)[:19]})"
        raw = self._opener(layer)
        hasher = Hasher()  # both digests are computed beside the inflate, not in its thread
        if layer.digest and layer.digest != layer.diff_id:
            raw = as_io(DigestReader(raw, layer.digest, what, size=layer.size or None, hasher=hasher))
        return decompressed(raw, what, diff_id=layer.diff_id or None, hasher=hasher)

    def close(self) -> None:
        if self._on_close is not None:
            cb, self._on_close = self._on_close, None
            cb()
