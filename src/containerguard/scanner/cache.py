"""The layer cache: per-layer analysis results on disk, shared by concurrent scans without locks.

Layout under the cache root (platformdirs' user cache dir; ``CONTAINERGUARD_CACHE_DIR`` or ``--cache-dir``
override it)::

    layers/<ab>/<key>.json   one LayerRecord (JSON, no pickle), key = sha256(layer id + analyzer versions)
    blobs/<algo>/<hex>       small verified blobs (image configs), so a warm daemon scan exports nothing
    tmp/                     spooled files and in-flight writes (never outside the cache root)

Writes go to a temporary file in ``tmp/`` and are renamed into place (atomic on POSIX), so two scans at
once neither corrupt an entry nor wait for each other; the last writer wins with identical content.
A read that finds a damaged entry treats it as a miss and removes it. Reads refresh the entry's mtime,
which drives least-recently-used eviction once the cache is over its size cap.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import tempfile
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

from containerguard.artifact.stream import parse_digest, verify_bytes
from containerguard.errors import CacheError, DigestMismatchError

#: bumped when what a walk records changes for every analyzer: 2 = names that are not UTF-8 escaped (tarwalk)
FORMAT = 2
DEFAULT_MAX_BYTES = 2 << 30
ENV_DIR = "CONTAINERGUARD_CACHE_DIR"
ENV_MAX = "CONTAINERGUARD_CACHE_MAX_BYTES"
_REWALK_SECONDS = 60.0


def default_cache_dir() -> Path:
    """$CONTAINERGUARD_CACHE_DIR, or the user's cache directory."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("containerguard"))


def layer_key(layer_id: str, analyzers: Sequence[tuple[str, int]], kind: str = "layer", skip: str = "") -> str:
    """The cache key of one layer's walk (or ``kind`` of result) under these analyzer (type, version) pairs
    and the skipped paths' fingerprint ``skip`` (``SkipPaths.key``; "" leaves the key as without skips)."""
    parts: dict[str, object] = {"f": FORMAT, "k": kind, "id": layer_id, "a": sorted(analyzers)}
    if skip:
        parts["s"] = skip
    spec = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()


class LayerCache:
    """Walk results per layer and image configs by id, on disk, bounded in size (least recently used go first).

    It is the :class:`containerguard.artifact.BlobStore` the artifact stage uses.
    """
    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        if max_bytes is None:
            try:
                max_bytes = int(os.environ.get(ENV_MAX, DEFAULT_MAX_BYTES))
            except ValueError:
                raise CacheError(f"{ENV_MAX} must be a number of bytes") from None
        self.max_bytes = max_bytes
        self._ready = False
        #: bytes in the cache as of the last walk plus what this object wrote since (None: not walked yet)
        self._bytes: int | None = None
        self._walked_at = 0.0

    # ----------------------------------------------------------------- paths
    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            for sub in ("layers", "blobs", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cache directory {self.root} is not usable: {exc.strerror or exc}") from None
        self._ready = True

    @property
    def tmp_dir(self) -> Path:
        """A directory inside the cache for temporary files (daemon exports, spooled layer files)."""
        self._ensure()
        return self.root / "tmp"

    def _entry(self, key: str) -> Path:
        return self.root / "layers" / key[:2] / f"{key}.json"

    # ----------------------------------------------------------------- entries
    def get(self, key: str) -> Any | None:
        """The JSON value stored under ``key``, or None (absent, unreadable or of another format: a miss)."""
        p = self._entry(key)
        try:
            data = p.read_bytes()
        except OSError:
            return None
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("key") != key:
                raise ValueError("stale entry")
        except (ValueError, RecursionError):
            with contextlib.suppress(OSError):
                p.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(p)
        return obj.get("value")

    def put(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key`` (atomically; old entries are evicted past the size cap)."""
        self._ensure()
        data = json.dumps({"format": FORMAT, "key": key, "value": value}, separators=(",", ":")).encode()
        self._atomic_write(self._entry(key), data)
        self._grew(len(data))

    def _grew(self, n: int) -> None:
        """Evict when the cache may be over its cap. The tree is walked only on the first write, when the
        running total passes the cap, or once a minute (other processes write too), not on every put."""
        if self._bytes is None or time.monotonic() - self._walked_at > _REWALK_SECONDS:
            self.evict()
            return
        self._bytes += n
        if self._bytes > self.max_bytes:
            self.evict()

    def _atomic_write(self, dest: Path, data: bytes) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix=".w-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise CacheError(f"cannot write to the cache {self.root}: {exc.strerror or exc}") from None

    # ----------------------------------------------------------------- blobs (configs)
    def _blob(self, digest: str) -> Path | None:
        try:
            algo, hexpart = parse_digest(digest)
        except DigestMismatchError:
            return None
        return self.root / "blobs" / algo / hexpart

    def get_blob(self, digest: str) -> bytes | None:
        """The blob stored under ``digest`` (an image config by image id), or None on a miss."""
        p = self._blob(digest)
        if p is None:
            return None
        try:
            data = p.read_bytes()
        except OSError:
            return None
        try:
            verify_bytes(data, digest)
        except DigestMismatchError:
            with contextlib.suppress(OSError):
                p.unlink()
            return None
        return data

    def put_blob(self, digest: str, data: bytes) -> None:
        """Store a blob under ``digest``."""
        p = self._blob(digest)
        if p is None:
            return
        self._ensure()
        self._atomic_write(p, data)
        if self._bytes is not None:
            self._bytes += len(data)

    # ----------------------------------------------------------------- housekeeping
    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        for sub in ("layers", "blobs"):
            base = self.root / sub
            if not base.is_dir():
                continue
            for dirpath, _dirs, names in os.walk(base):
                for n in names:
                    p = Path(dirpath, n)
                    try:
                        st = p.stat()
                    except OSError:
                        continue
                    out.append((st.st_mtime, st.st_size, p))
        return out

    def evict(self) -> int:
        """Remove least-recently-used entries until the cache is under 90% of its cap."""
        files = self._files()
        total = sum(s for _, s, _ in files)
        self._bytes, self._walked_at = total, time.monotonic()
        if total <= self.max_bytes:
            return 0
        removed = 0
        target = int(self.max_bytes * 0.9)
        for _mtime, size, p in sorted(files):
            if total <= target:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size
                removed += 1
        self._bytes = total
        return removed

    def info(self) -> dict[str, Any]:
        """Path, entry and blob counts, bytes used and the cap (``containerguard cache info``)."""
        files = self._files()
        layers = sum(1 for _, _, p in files if p.suffix == ".json")
        return {"path": str(self.root), "entries": layers, "blobs": len(files) - layers,
                "bytes": sum(s for _, s, _ in files), "max_bytes": self.max_bytes}

    def clean(self) -> dict[str, int]:
        """Remove every entry (and stale temporary files); returns what was removed."""
        files = self._files()
        self._bytes = None
        removed = freed = 0
        for _, size, p in files:
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
                freed += size
        tmp = self.root / "tmp"
        if tmp.is_dir():
            cutoff = time.time() - 3600  # leave files of scans running right now alone
            for p in tmp.iterdir():
                with contextlib.suppress(OSError):
                    if p.stat().st_mtime < cutoff:
                        p.unlink()
        return {"entries": removed, "bytes": freed}


# --------------------------------------------------------------------------- JSON codec for dataclasses


def to_jsonable(obj: Any) -> Any:
    """Dataclasses -> dicts (fields equal to their default omitted), enums -> values, tuples -> lists."""
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj.value if isinstance(obj, enum.Enum) else obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
            if f.default is not MISSING and v == f.default:
                continue
            if f.default_factory is not MISSING and v == f.default_factory():
                continue
            out[f.name] = to_jsonable(v)
        return out
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    return str(obj)


_HINTS: dict[type, dict[str, Any]] = {}


def from_jsonable(tp: Any, data: Any) -> Any:
    """The inverse of to_jsonable, driven by type hints."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_jsonable(args[0], data) if len(args) == 1 else data
    if tp is Any:
        return data
    if isinstance(tp, type) and is_dataclass(tp):
        hints = _HINTS.get(tp)
        if hints is None:
            hints = _HINTS[tp] = typing.get_type_hints(tp)
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {tp.__name__}")
        return tp(**{k: from_jsonable(hints[k], v) for k, v in data.items() if k in hints})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if origin is tuple:
        targs = typing.get_args(tp)
        return tuple(from_jsonable(targs[0] if targs else Any, v) for v in data)
    if origin is list:
        largs = typing.get_args(tp)
        return [from_jsonable(largs[0] if largs else Any, v) for v in data]
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, str]):
        margs = typing.get_args(tp)
        return {k: from_jsonable(margs[1] if margs else Any, v) for k, v in data.items()}
    return data
