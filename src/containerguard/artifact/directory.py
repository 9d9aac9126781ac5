"""``dir:PATH``: an unpacked root filesystem or a source tree, walked as one pseudo-layer (never cached)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from containerguard.artifact.base import Artifact
from containerguard.errors import ArtifactError
from containerguard.model import ImageMeta, ImageRef, Layer


class DirArtifact(Artifact):
    def __init__(self, ref: ImageRef) -> None:
        self.ref = ref
        self.root = Path(ref.ref)
        if not self.root.is_dir():
            raise ArtifactError(f"{self.root}: not a directory")
        self._layers = [Layer(index=0, digest="", created_by=f"dir:{self.root}")]

    def meta(self) -> ImageMeta:
        return ImageMeta()

    def layers(self) -> Sequence[Layer]:
        return self._layers

    def open_layer(self, layer: Layer) -> IO[bytes]:
        raise ArtifactError("dir: targets are walked, not read as a tar stream")
