"""``docker:IMAGE``: an image in the local Docker Engine, through its API socket (DOCKER_HOST honoured).

The layer list comes from ``inspect`` (RootFS.Layers are the diff_ids, the cache's keys); the image
config is taken from the cache when a previous scan stored it (verified against the image id, which is
its digest). Only when a layer or the config must actually be read is the image exported
(``GET /images/NAME/get``), streamed chunk by chunk into a temporary file in the cache's ``tmp/`` and
read like a ``docker save`` archive; the file is removed when the artifact is closed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from containerguard.artifact.base import Artifact, BlobStore
from containerguard.artifact.image import BlobImage, build_layers, build_meta
from containerguard.artifact.manifest import parse_config
from containerguard.artifact.oci import open_docker_archive
from containerguard.artifact.registry import split_reference
from containerguard.errors import ArtifactError
from containerguard.model import ImageMeta, ImageRef, Layer

TIMEOUT = 300

_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}").fullmatch


def check_name(name: str) -> None:
    """An image ID or an image reference, else ArtifactError: the name goes into the daemon's URL paths
    (``/images/NAME/json``), where ``a/../../containers/ID`` would reach another endpoint."""
    if not _IMAGE_ID(name):
        split_reference(name)


def docker_client(timeout: int = TIMEOUT) -> Any:
    try:
        import docker
        import docker.errors
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise ArtifactError(f"the docker library is not installed: {exc}") from None
    try:
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise ArtifactError(f"cannot reach the Docker daemon ({os.environ.get('DOCKER_HOST', 'default socket')}): "
                            f"{str(exc)[:200]}") from None


def inspect(name: str) -> dict[str, Any] | None:
    """``docker image inspect`` or None when the daemon does not have the image (or is not there)."""

    try:
        check_name(name)
        client = docker_client(timeout=10)  # a bare IMAGE falls back to the registry: do not wait long
    except ArtifactError:
        return None
    try:
        info: dict[str, Any] = client.api.inspect_image(name)
        return info
    except Exception:  # not found, or a daemon that does not answer (requests errors are not DockerException)
        return None
    finally:
        client.close()


class DaemonImage(Artifact):
    def __init__(self, ref: ImageRef, *, cache: BlobStore | None = None, platform: str = "linux/amd64",
                 on_export: Callable[[int], None] | None = None) -> None:
        import docker.errors

        check_name(ref.ref)
        self.ref = ref
        self._on_export = on_export
        self._cache = cache
        self._platform = platform
        self._client = docker_client()
        try:
            self._info: dict[str, Any] = self._client.api.inspect_image(ref.ref)
        except docker.errors.ImageNotFound:
            self._client.close()
            raise ArtifactError(f"image {ref.ref!r} not found in the Docker daemon") from None
        except Exception as exc:  # DockerException, or requests' connection/timeout errors
            self._client.close()
            raise ArtifactError(f"Docker daemon: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._image_id = str(self._info.get("Id", ""))
        self._archive: BlobImage | None = None
        self._tmp: Path | None = None
        diff_ids = list((self._info.get("RootFS") or {}).get("Layers") or [])
        cfg_bytes = cache.get_blob(self._image_id) if cache is not None and self._image_id else None
        if cfg_bytes is not None:
            config = parse_config(cfg_bytes, f"{ref}: config")
            self._layers = build_layers(config, [("", 0, "")] * len(config.diff_ids), str(ref))
            self._meta = build_meta(config, self._image_id, self._info.get("RepoTags") or (),
                                    self._info.get("RepoDigests") or ())
        else:
            arch = self._export()
            self._layers = list(arch.layers())
            m = arch.meta()
            self._meta = ImageMeta(id=m.id, repo_tags=tuple(self._info.get("RepoTags") or m.repo_tags),
                                   repo_digests=tuple(self._info.get("RepoDigests") or ()),
                                   architecture=m.architecture, os=m.os, created=m.created, config=m.config,
                                   history=m.history)
        if diff_ids and [layer.diff_id for layer in self._layers] != diff_ids:
            raise ArtifactError(f"{ref}: the daemon's layer list does not match the image config")

    def _export(self) -> BlobImage:
        if self._archive is not None:
            return self._archive

        tmpdir = self._cache.tmp_dir if self._cache is not None else None
        fd, name = tempfile.mkstemp(prefix="docker-export-", suffix=".tar", dir=tmpdir)
        self._tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                done = 0
                for chunk in self._client.api.get_image(self.ref.ref, chunk_size=1 << 20):
                    fh.write(chunk)
                    done += len(chunk)
                    if self._on_export is not None:
                        self._on_export(done)
        except OSError as exc:
            self.close()
            raise ArtifactError(f"exporting {self.ref.ref}: {exc.strerror or exc}") from None
        except Exception as exc:  # DockerException, or requests' connection/timeout errors
            self.close()
            raise ArtifactError(f"exporting {self.ref.ref} from the Docker daemon failed: {str(exc)[:200]}") from None
        arch = open_docker_archive(ImageRef("docker-archive", str(self._tmp)), platform=self._platform)
        if self._image_id and arch.meta().id != self._image_id:
            self.close()
            raise ArtifactError(f"{self.ref}: exported image id {arch.meta().id} differs from {self._image_id}")
        if self._cache is not None and self._image_id:
            cfg = arch.config_bytes
            if cfg is not None:
                with contextlib.suppress(Exception):
                    self._cache.put_blob(self._image_id, cfg)
        self._archive = arch
        return arch

    def meta(self) -> ImageMeta:
        return self._meta

    def layers(self) -> Sequence[Layer]:
        return self._layers

    def open_layer(self, layer: Layer) -> IO[bytes]:
        arch = self._export()
        return arch.open_layer(arch.layers()[layer.index])

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            self._tmp = None
        with contextlib.suppress(Exception):
            self._client.close()
