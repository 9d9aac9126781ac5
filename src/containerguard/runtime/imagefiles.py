"""What each image's layers hold, so that an exec can be told apart from drift (zero-drift).

An executable is "in the image" only when its path (symbolic links resolved inside the image, as the kernel
resolved them in the container) is a regular file of the image's layers, and, when the running process's
executable can still be looked at, with the layers' size and permission bits. A binary written after the
container started, replaced in place (``cp evil /usr/bin/date``) or made setuid is drift; a file of the image
that was merely copied up to the upper layer (``touch``, ``chown``) is not.

The layer index comes from a provider the caller injects (the agent's command line passes the scanner's entry
point, which reads the image through the layer cache): ``provider(image) -> {relative path: LayerFile}``. Under
containerd the layers are already unpacked on the node: :func:`index_of_layer_dirs` reads them from the overlay
snapshot's lower directories (the container table's provider).
Indexes load on a background thread, one image at a time, the first time a container of the image runs
something; until an image's index is there (or when it cannot be read), :meth:`ImageFiles.drift` answers
``None`` (unknown) and the caller falls back to the container's upper layer.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from containerguard.runtime import links

log = logging.getLogger(__name__)

_FILE, _SYMLINK, _HARDLINK = "f", "l", "h"


@dataclass(frozen=True, slots=True)
class LayerFile:
    """One path of an image's merged layers: kind (``f`` file, ``d`` directory, ``l`` symlink, ``h`` hard
    link), permission and type bits, size, and link target."""

    kind: str
    mode: int
    size: int
    link: str = ""


#: an image (id or reference) -> its merged layers (paths relative to the root, no leading '/'), or None
IndexProvider = Callable[[str], Mapping[str, LayerFile] | None]


def resolve(index: Mapping[str, LayerFile], path: str) -> str | None:
    """``path`` with every symbolic link (and hard link) inside the image followed, relative to the root; None
    for a loop."""

    def link_of(rel: str) -> str | None:
        info = index.get(rel)
        if info is None or info.kind not in (_SYMLINK, _HARDLINK) or not info.link:
            return None
        return "/" + info.link if info.kind == _HARDLINK else info.link  # hard links name their target from the root

    out = links.follow(path, link_of)
    return None if out is None else "/".join(out)


def _hidden(rel: str, gone: set[str]) -> bool:
    """Whether ``rel`` or a directory above it was deleted or made opaque by a higher layer."""
    while rel:
        if rel in gone:
            return True
        rel = rel.rpartition("/")[0]
    return False


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def index_of_layer_dirs(dirs: Sequence[str], *, max_entries: int = 2_000_000) -> dict[str, LayerFile]:
    """The executables and symbolic links of an image's unpacked layers on disk, merged as overlayfs merges them:
    ``dirs`` top layer first (an overlay mount's ``lowerdir`` order); a whiteout (a 0:0 character device) deletes
    the path below it, an opaque directory (``trusted.overlay.opaque=y``) hides what lower layers hold under it, a
    file or link above a directory hides the directory. Symbolic links are recorded, never followed."""
    out: dict[str, LayerFile] = {}
    above: dict[str, bool] = {}  # every path a higher layer holds -> whether it is a directory there
    gone: set[str] = set()  # deleted or made opaque by a higher layer
    entries = 0
    for top in dirs:
        layer_gone: set[str] = set()
        for root, subdirs, files in os.walk(top, followlinks=False):
            base = os.path.relpath(root, top)
            base = "" if base == "." else base
            keep = []
            for name in [*subdirs, *files]:
                entries += 1
                if entries > max_entries:
                    raise ValueError(f"more than {max_entries} files in the image's layers")
                rel = f"{base}/{name}" if base else name
                if _hidden(rel, gone):
                    continue
                full = os.path.join(root, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
                if rel in above:
                    if is_dir and above[rel]:
                        keep.append(name)  # the same directory in two layers: both hold its entries
                        if _opaque(full):
                            layer_gone.add(rel)
                    continue
                above[rel] = is_dir
                if is_dir:
                    keep.append(name)
                    if _opaque(full):
                        layer_gone.add(rel)
                elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    layer_gone.add(rel)  # a whiteout: deleted here, and nothing below shows
                elif stat.S_ISLNK(st.st_mode):
                    out[rel] = LayerFile(_SYMLINK, st.st_mode, st.st_size, os.readlink(full))
                elif stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                    out[rel] = LayerFile(_FILE, st.st_mode, st.st_size)
            subdirs[:] = [d for d in subdirs if d in keep]
        gone |= layer_gone
    return out


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


class ImageFiles:
    """Layer indexes of the images whose containers run here, loaded in the background and kept (bounded)."""

    def __init__(self, provider: IndexProvider, *, max_images: int = 32, proc_root: str = "/proc") -> None:
        self.provider = provider
        self.max_images = max_images
        self.proc_root = proc_root
        self._indexes: dict[str, Mapping[str, LayerFile] | None] = {}  # None: could not be read
        self._pending: set[str] = set()
        self._ready = threading.Condition()
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.loaded = 0
        self.failed = 0

    def index(self, image: str) -> Mapping[str, LayerFile] | None:
        """The image's index if loaded; otherwise None, and its load is queued (never blocks)."""
        if not image:
            return None
        if image in self._indexes:
            return self._indexes[image]
        with self._ready:
            if image not in self._pending and image not in self._indexes:
                self._pending.add(image)
                self._queue.put(image)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._load_loop, name="cg-image-files", daemon=True)
                    self._thread.start()
        return None

    def wait(self, image: str, timeout: float) -> bool:
        """Queue ``image`` and wait up to ``timeout`` seconds for its index; whether it is readable."""
        self.index(image)
        with self._ready:
            self._ready.wait_for(lambda: image in self._indexes, timeout)
            return self._indexes.get(image) is not None

    def _load_loop(self) -> None:
        while True:
            image = self._queue.get()
            try:
                idx = self.provider(image)
            except Exception as exc:  # an image gone, a daemon error: unknown, the upper layer decides
                log.warning("zero-drift: cannot read the layers of %s: %s", image, str(exc).splitlines()[0] if str(exc)
                            else type(exc).__name__)
                idx = None
            with self._ready:
                if len(self._indexes) >= self.max_images:
                    self._indexes.pop(next(iter(self._indexes)))
                self._indexes[image] = idx
                self._pending.discard(image)
                if idx is None:
                    self.failed += 1
                else:
                    self.loaded += 1
                self._ready.notify_all()

    def drift(self, image: str, exepath: str, pid: int, upper_dir: str = "") -> str | None:
        """Why the executable ``exepath`` that process ``pid`` runs is not the image's: ``""`` when it is, a
        reason when it is not, None when the image's layers are not known (yet). The running file is looked at
        through ``/proc/PID/exe``; when the process is already gone (a short-lived one), or runs another file (a
        script's interpreter), through the container's upper layer ``upper_dir`` (a file there replaced or covers
        the image's; none there: the image's own)."""
        idx = self.index(image)
        if idx is None or not exepath.startswith("/"):
            return None
        rel = resolve(idx, exepath)
        info = idx.get(rel) if rel else None
        if info is None or info.kind != _FILE:
            return "not in the image layers"
        exe = f"{self.proc_root}/{pid}/exe"
        try:  # a script runs its interpreter: /proc/PID/exe is not the file exepath names (nor after a new exec)
            running = os.readlink(exe).removesuffix(" (deleted)").rpartition("/")[2]
        except OSError:
            running = ""
        names = (exepath.rpartition("/")[2], (rel or "").rpartition("/")[2])
        st = _stat(exe) if not running or running in names else None
        if st is None:  # gone already: the file the path names now, in the upper layer if it was changed there
            st = _stat(f"{upper_dir}/{rel}") if upper_dir else None
            if st is None:
                return ""  # not in the upper layer: the image's own file (or no way to tell)
        if st.st_size != info.size:
            return f"replaced after the container started ({st.st_size} bytes; the image's has {info.size})"
        if (st.st_mode & 0o7777) != (info.mode & 0o7777):
            return f"mode changed after the container started ({st.st_mode & 0o7777:o}; the image's is {info.mode & 0o7777:o})"
        return ""

    def stats(self) -> dict[str, object]:
        """Counters for /healthz."""
        ready = sorted(k for k, v in list(self._indexes.items()) if v is not None)
        return {"images": len(self._indexes), "loaded": self.loaded, "failed": self.failed,
                "pending": len(self._pending), "ready": ready}
