"""Image sources: parse a TARGET and open it as an Artifact (metadata + verified layer streams).

TARGET forms: ``docker:IMAGE``, ``docker-archive:PATH``, ``oci:DIR[:TAG]``, ``oci-archive:PATH[:TAG]``,
``registry:HOST/REPO[:TAG|@DIGEST]``, ``dir:PATH`` and a bare ``IMAGE`` (the local daemon first, then
the registry).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from containerguard.artifact.base import Artifact, BlobStore
from containerguard.errors import UsageError
from containerguard.model import ImageRef

SCHEMES = ("docker", "docker-archive", "oci", "oci-archive", "registry", "dir")

#: ``word:`` followed by a path: a scheme (mistyped or of another command), never an image reference
#: (a registry port is digits and comes before a ``/``): refused here, before any daemon or network lookup
_SCHEME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?:/|\.|~)").match

__all__ = ["SCHEMES", "Artifact", "BlobStore", "open_target", "parse_target"]


def parse_target(text: str) -> ImageRef:
    """Split ``scheme:rest``; ``oci:DIR:TAG`` keeps the tag apart. A bare name is scheme ``auto``."""
    t = text.strip()
    if not t:
        raise UsageError("empty target")
    if "\0" in t or "\n" in t:
        raise UsageError("target contains control characters")
    scheme, sep, rest = t.partition(":")
    if sep and scheme in SCHEMES:
        if not rest:
            raise UsageError(f"target {t!r}: nothing after {scheme}:")
        if scheme == "oci":
            # oci:DIR:TAG, but a DIR that exists as given (it may contain ':') wins
            if ":" in rest and not os.path.isdir(rest):
                d, _, tag = rest.rpartition(":")
                if d and tag:
                    return ImageRef("oci", d, tag)
            return ImageRef("oci", rest)
        if scheme == "docker-archive" and ":" in rest and not os.path.exists(rest):
            p, _, tag = rest.partition(":")  # docker-archive:PATH:REPO:TAG selects one image
            if os.path.exists(p) and tag:
                return ImageRef("docker-archive", p, tag)
        if scheme == "oci-archive" and ":" in rest and not os.path.exists(rest):
            p, _, tag = rest.rpartition(":")  # oci-archive:PATH:TAG selects one image, as oci:DIR:TAG does
            if os.path.exists(p) and tag:
                return ImageRef("oci-archive", p, tag)
        return ImageRef(scheme, rest)
    if sep and _SCHEME_LIKE(t):
        hint = "; sbom:FILE is read by `containerguard scan`" if scheme == "sbom" else ""
        raise UsageError(f"target {t[:200]!r}: unknown scheme {scheme[:40]!r} (known: {', '.join(SCHEMES)}){hint}")
    if t.startswith(("/", "./", "../", "~")):
        raise UsageError(f"target {t[:200]!r} is a path, not an image name: give its kind (dir:PATH, "
                         "docker-archive:TAR, oci:DIR, oci-archive:TAR; sbom:FILE for scan)")
    return ImageRef("auto", t)


def open_target(ref: ImageRef | str, *, insecure: bool = False, platform: str = "linux/amd64",
                username: str | None = None, password: str | None = None, cache: BlobStore | None = None,
                timeout: float | None = None, on_export: Callable[[int], None] | None = None) -> Artifact:
    """Open a target. ``cache`` (a :class:`BlobStore`, e.g. the scanner's LayerCache) lets the daemon source reuse stored configs and spool
    exports inside the cache directory; ``on_export(bytes)`` follows a daemon export."""
    if isinstance(ref, str):
        ref = parse_target(ref)
    scheme = ref.scheme
    if scheme == "docker-archive":
        from containerguard.artifact.oci import open_docker_archive

        return open_docker_archive(ref, platform=platform)
    if scheme == "oci":
        from containerguard.artifact.oci import open_oci_dir

        return open_oci_dir(ref, platform=platform)
    if scheme == "oci-archive":
        from containerguard.artifact.oci import open_oci_archive

        return open_oci_archive(ref, platform=platform)
    if scheme == "dir":
        from containerguard.artifact.directory import DirArtifact

        return DirArtifact(ref)
    if scheme == "docker":
        from containerguard.artifact.daemon import DaemonImage

        return DaemonImage(ref, cache=cache, platform=platform, on_export=on_export)
    if scheme == "registry":
        from containerguard.artifact.registry import open_registry

        return open_registry(ref, platform=platform, insecure=insecure, username=username, password=password,
                             timeout=timeout)
    if scheme == "auto":
        from containerguard.artifact.daemon import DaemonImage, inspect

        if inspect(ref.ref) is not None:
            return DaemonImage(ImageRef("docker", ref.ref), cache=cache, platform=platform, on_export=on_export)
        from containerguard.artifact.registry import open_registry

        return open_registry(ImageRef("registry", ref.ref), platform=platform, insecure=insecure,
                             username=username, password=password, timeout=timeout)
    raise UsageError(f"unsupported target scheme {scheme!r}")
