"""The image source contract.

An ``Artifact`` is an opened image source: it knows its metadata and its layers and gives each layer as an
uncompressed tar stream (``open_layer``), verifying digests as it reads. ``artifact.open_target(ImageRef)``
picks the implementation by scheme. Nothing here parses packages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import IO

from containerguard.model import ImageMeta, ImageRef, Layer


class Artifact(ABC):
    ref: ImageRef

    @abstractmethod
    def meta(self) -> ImageMeta: ...

    @abstractmethod
    def layers(self) -> Sequence[Layer]: ...

    @abstractmethod
    def open_layer(self, layer: Layer) -> IO[bytes]:
        """An uncompressed tar stream for the layer (gzip/zstd handled here). Read once, sequentially."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Artifact:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
