"""OCI / Docker manifests, indexes and image configs: strict parsing and platform selection.

Every parser here takes untrusted bytes and either returns typed data or raises ArtifactError with a
one-line reason; nothing else escapes (the fuzz tests hold it to that).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from containerguard.artifact.stream import parse_digest
from containerguard.errors import ArtifactError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
REF_NAME = "org.opencontainers.image.ref.name"

#: manifests and configs bigger than this are refused (the spec suggests 4 MiB for manifests)
MAX_MANIFEST_BYTES = 4 << 20
MAX_CONFIG_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise ArtifactError(f"invalid platform {text!r} (expected OS/ARCH[/VARIANT], e.g. linux/amd64)")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: Platform) -> bool:
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if not self.variant or not other.variant:
            return True
        return self.variant == other.variant


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True)
class ImageConfig:
    diff_ids: tuple[str, ...]
    history: tuple[Mapping[str, Any], ...]
    architecture: str = ""
    os: str = ""
    variant: str = ""
    created: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)

    def layer_commands(self) -> list[str]:
        """``created_by`` of each non-empty history entry, oldest first (one per layer when consistent)."""
        return [str(h.get("created_by", "")) for h in self.history if not h.get("empty_layer")]


def _load(data: bytes, what: str, cap: int) -> dict[str, Any]:
    if len(data) > cap:
        raise ArtifactError(f"{what} too large ({len(data)} bytes, cap {cap})")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ArtifactError(f"{what} is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise ArtifactError(f"{what} is not a JSON object")
    return obj


def _str(obj: Mapping[str, Any], key: str, what: str, *, required: bool = True) -> str:
    v = obj.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str):
        raise ArtifactError(f"{what}: {key!r} must be a string")
    return v


def parse_descriptor(obj: Any, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise ArtifactError(f"{what}: descriptor is not an object")
    digest = _str(obj, "digest", what)
    try:
        parse_digest(digest)
    except ArtifactError as exc:
        raise ArtifactError(f"{what}: {exc}") from None
    size = obj.get("size", -1)
    if isinstance(size, bool) or not isinstance(size, int) or size < -1 or size > (1 << 50):
        raise ArtifactError(f"{what}: invalid size {str(size)[:40]}")
    plat = obj.get("platform")
    platform = None
    if plat is not None:
        if not isinstance(plat, dict):
            raise ArtifactError(f"{what}: platform is not an object")
        platform = Platform(_str(plat, "os", what), _str(plat, "architecture", what),
                            _str(plat, "variant", what, required=False))
    ann = obj.get("annotations") or {}
    if not isinstance(ann, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ann.items()):
        raise ArtifactError(f"{what}: annotations must map strings to strings")
    return Descriptor(_str(obj, "mediaType", what, required=False), digest, size, platform, ann)


def parse_manifest(data: bytes, media_type: str = "", what: str = "manifest") -> Manifest | Index:
    """Parse an image manifest or an index / manifest list (media type from the body or the hint)."""
    obj = _load(data, what, MAX_MANIFEST_BYTES)
    mt = obj.get("mediaType") or media_type
    if not isinstance(mt, str):
        raise ArtifactError(f"{what}: mediaType must be a string")
    if obj.get("schemaVersion") != 2:
        raise ArtifactError(f"{what}: unsupported schemaVersion {str(obj.get('schemaVersion'))[:20]} (only 2)")
    if mt in INDEX_TYPES or (not mt and "manifests" in obj):
        items = obj.get("manifests")
        if not isinstance(items, list):
            raise ArtifactError(f"{what}: 'manifests' must be a list")
        return Index(mt or OCI_INDEX, tuple(parse_descriptor(d, f"{what} manifests[{i}]") for i, d in enumerate(items)))
    if mt in MANIFEST_TYPES or (not mt and "layers" in obj):
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise ArtifactError(f"{what}: 'layers' must be a list")
        return Manifest(mt or OCI_MANIFEST, parse_descriptor(obj.get("config"), f"{what} config"),
                        tuple(parse_descriptor(d, f"{what} layers[{i}]") for i, d in enumerate(layers)))
    raise ArtifactError(f"{what}: unsupported media type {mt[:100]!r}")


#: the config media types of container images; an OCI artifact (a Helm chart, a signature, an SBOM
#: attachment) names another, and is refused as what it is
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})


def parse_config(data: bytes, what: str = "image config", media_type: str = "") -> ImageConfig:
    """The image config; ``media_type`` is the manifest's word for it: a config that is no image config
    under a media type that is none either is named as the artifact it is, not as a broken image."""
    if media_type and media_type not in IMAGE_CONFIG_TYPES:
        try:
            return _parse_config(data, what)
        except ArtifactError:
            raise ArtifactError(f"{what}: not a container image (an OCI artifact whose config is "
                                f"{media_type[:100]!r})") from None
    return _parse_config(data, what)


def _parse_config(data: bytes, what: str) -> ImageConfig:
    obj = _load(data, what, MAX_CONFIG_BYTES)
    rootfs = obj.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ArtifactError(f"{what}: missing rootfs.diff_ids")
    diff_ids = rootfs["diff_ids"]
    for d in diff_ids:
        if not isinstance(d, str):
            raise ArtifactError(f"{what}: diff_ids must be strings")
        parse_digest(d)
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ArtifactError(f"{what}: history must be a list of objects")
    cfg = obj.get("config") or {}
    if not isinstance(cfg, dict):
        raise ArtifactError(f"{what}: config must be an object")
    return ImageConfig(tuple(diff_ids), tuple(history), str(obj.get("architecture", "")), str(obj.get("os", "")),
                       str(obj.get("variant", "")), str(obj.get("created", "")), cfg)


def select_platform(index: Index, platform: str, what: str = "index") -> Descriptor:
    """The one manifest of a multi-arch index that fits ``platform`` (OS/ARCH[/VARIANT])."""
    want = Platform.parse(platform)
    images = [d for d in index.manifests if d.platform is not None and d.platform.architecture != "unknown"]
    for d in images:
        assert d.platform is not None
        if want.matches(d.platform):
            return d
    if not images and len(index.manifests) == 1:
        return index.manifests[0]
    have = ", ".join(sorted({str(d.platform) for d in images if d.platform})) or "none"
    raise ArtifactError(f"{what}: no image for platform {want} (available: {have})")


def pick_from_layout_index(index: Index, tag: str | None, platform: str, what: str) -> Descriptor:
    """index.json of an OCI layout: select by ref.name annotation, then by platform."""
    cands = list(index.manifests)
    if tag:
        cands = [d for d in cands if d.annotations.get(REF_NAME) == tag
                 or d.annotations.get("io.containerd.image.name", "").endswith(":" + tag)]
        if not cands:
            names = sorted({d.annotations.get(REF_NAME, "") for d in index.manifests} - {""})
            raise ArtifactError(f"{what}: no image tagged {tag!r} (tags: {', '.join(names) or 'none'})")
    if not cands:
        raise ArtifactError(f"{what}: the index lists no image")
    if len(cands) == 1:
        return cands[0]
    if not tag:  # several images that fit the platform (or name none) are a choice for the user, not the first
        want = Platform.parse(platform)
        fits = [d for d in cands if d.platform is None or (d.platform.architecture != "unknown"
                                                            and want.matches(d.platform))]
        if len(fits) > 1:
            names = sorted({d.annotations.get(REF_NAME, "") for d in fits} - {""})
            raise ArtifactError(f"{what}: lists {len(fits)} images for {want}: name one by its tag "
                                f"(tags: {', '.join(names)[:200] or 'none'})")
    return select_platform(Index(index.media_type, tuple(cands)), platform, what)
