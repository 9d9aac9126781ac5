"""The image source contract.

An ``Artifact`` is an opened image source: it knows its metadata and its layers and gives each layer as an
uncompressed tar stream (``open_layer``), verifying digests as it reads. ``artifact.open_target(ImageRef)``
picks the implementation by scheme. Nothing here parses packages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from containerguard.model import ImageMeta, ImageRef, Layer


class BlobStore(Protocol):
    """Where an image source keeps blobs between runs (image configs by id) and spools exports.

    ``containerguard.scanner.LayerCache`` is the implementation; the artifact stage sees only this.
    """

    @property
    def tmp_dir(self) -> Path:
        """A directory on the cache's file system for temporary files (daemon exports)."""
        ...

    def get_blob(self, digest: str) -> bytes | None:
        """The stored blob, or None when it is absent (or unreadable: a cache miss, never an error)."""
        ...

    def put_blob(self, digest: str, data: bytes) -> None:
        """Store a blob; a failure to store is the caller's to ignore."""
        ...


class Artifact(ABC):
    """An opened image source: metadata, layers, and each layer as a verified uncompressed tar stream."""

    ref: ImageRef
    #: things the user should know that did not stop the open (a malformed Docker config, a missing
    #: credential helper); the inventory lists them with its warnings
    warnings: Sequence[str] = ()

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
