"""Safe, streaming walk over one layer's tar: normalised paths, hostile entries skipped and counted.

Nothing is ever extracted: entries are yielded in stream order and a caller that wants a file's bytes
reads them from ``Entry.open()`` before asking for the next entry. ``tarfile`` parses headers (stream mode
``r|``); every safety decision is ours:

* absolute names are made relative (as Docker does); names with ``..`` components are skipped (counted);
* names deeper than MAX_DEPTH components or longer than MAX_PATH bytes are skipped (counted);
* hard links must name an earlier entry of the same layer; others are skipped (counted);
* device files and FIFOs are recorded in the file index but have no content (counted);
* a second entry for the same path replaces the first (counted);
* PAX / GNU long-name headers bigger than MAX_HEADER bytes are refused (they would be read into memory);
* a truncated or corrupt stream raises ArchiveError.

Whiteouts come out as entries of kind WHITEOUT (``dir/.wh.NAME`` -> ``dir/NAME``) and OPAQUE
(``dir/.wh..wh..opq`` -> ``dir``).
"""

from __future__ import annotations

import io
import stat
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from containerguard.errors import ArchiveError

MAX_DEPTH = 256
MAX_PATH = 4096
MAX_HEADER = 1 << 20

FILE, DIR, SYMLINK, HARDLINK, DEVICE, WHITEOUT, OPAQUE = "f", "d", "l", "h", "c", "w", "o"
WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"

_TYPE_BITS = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK, HARDLINK: stat.S_IFREG}

#: warning counters -> message templates
WARNINGS = {
    "unsafe_path": "{n} tar entries with '..' components skipped",
    "absolute": "{n} tar entries with absolute names made relative",
    "too_deep": f"{{n}} tar entries nested deeper than {MAX_DEPTH} levels or longer than {MAX_PATH} bytes skipped",
    "bad_hardlink": "{n} hard links to files outside the layer skipped",
    "escaping_symlink": "{n} symlinks pointing outside the image root (resolved inside it)",
    "device": "{n} device files or FIFOs ignored",
    "duplicate": "{n} duplicate tar entries (the last one wins)",
}


@dataclass(slots=True)
class Entry:
    path: str
    kind: str
    mode: int  # st_mode with the file-type bits
    size: int
    link: str = ""  # symlink target as written, or the normalised hard-link target
    _tar: Any = None
    _info: Any = None

    def open(self) -> IO[bytes]:
        f = self._tar.extractfile(self._info)
        if f is None:  # pragma: no cover - only regular files are opened
            raise ArchiveError(f"{self.path}: cannot be read")
        return f  # type: ignore[no-any-return]


def normalise(name: str, counts: Counter[str]) -> str | None:
    """The entry name as a clean relative path, or None when it must be skipped."""
    if len(name) > MAX_PATH:
        counts["too_deep"] += 1
        return None
    if name.startswith("/"):
        counts["absolute"] += 1
        name = name.lstrip("/")
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        counts["unsafe_path"] += 1
        return None
    if len(parts) > MAX_DEPTH:
        counts["too_deep"] += 1
        return None
    if any("\0" in p for p in parts):
        counts["unsafe_path"] += 1
        return None
    return "/".join(parts)


def symlink_escapes(path: str, target: str) -> bool:
    """True when a relative symlink climbs above the root (it is then clamped there when resolved)."""
    if target.startswith("/"):
        return False
    depth = path.count("/")  # components of the link's parent directory
    for p in target.split("/"):
        if p == "..":
            depth -= 1
            if depth < 0:
                return True
        elif p and p != ".":
            depth += 1
    return False


_BIG_HEADERS = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                tarfile.SOLARIS_XHDTYPE)


class _SafeTarInfo(tarfile.TarInfo):
    def _proc_member(self, tf: Any) -> Any:
        if self.type in _BIG_HEADERS and self.size > MAX_HEADER:
            raise ArchiveError(f"tar extended header of {self.size} bytes refused (cap {MAX_HEADER})")
        return super()._proc_member(tf)  # type: ignore[misc]


class ForwardSeekable(io.RawIOBase):
    """A forward-only stream that answers tell() and seeks forward by reading: lets tarfile use its
    seekable code path (C-buffered header reads) on a pipe-like stream, which is much faster than ``r|``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buf: Any) -> int:
        data = self._raw.read(len(buf))
        n = len(data)
        buf[:n] = data
        self._pos += n
        return n

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self._pos
        elif whence != 0:
            raise ArchiveError("tar stream: seek from the end is not possible")
        if pos < self._pos:
            raise ArchiveError("tar stream: backward seek")
        while self._pos < pos:
            data = self._raw.read(min(pos - self._pos, 1 << 20))
            if not data:
                break
            self._pos += len(data)
        return self._pos


def _whiteout(path: str, base: str) -> Entry | None:
    """The OPAQUE or WHITEOUT entry a ``.wh.`` name stands for (None for a malformed one)."""
    parent = path[: -len(base)].rstrip("/")
    if base == WH_OPAQUE:
        return Entry(parent, OPAQUE, 0, 0)
    target = base[len(WH_PREFIX):]
    if target and target not in (".", ".."):
        return Entry(f"{parent}/{target}" if parent else target, WHITEOUT, 0, 0)
    return None


def _entry(path: str, ti: tarfile.TarInfo, tf: tarfile.TarFile, seen: set[str], counts: Counter[str]) -> Entry | None:
    """The Entry of one (non-whiteout) tar member; None for a hard link to outside the layer."""
    perm = ti.mode & 0o7777
    if ti.isreg():
        return Entry(path, FILE, stat.S_IFREG | perm, ti.size, "", tf, ti)
    if ti.isdir():
        return Entry(path, DIR, stat.S_IFDIR | perm, 0)
    if ti.issym():
        if symlink_escapes(path, ti.linkname):
            counts["escaping_symlink"] += 1
        return Entry(path, SYMLINK, stat.S_IFLNK | perm, 0, ti.linkname)
    if ti.islnk():
        hl = normalise(ti.linkname, Counter())
        if not hl or hl not in seen:
            counts["bad_hardlink"] += 1
            return None
        return Entry(path, HARDLINK, stat.S_IFREG | perm, 0, hl)
    counts["device"] += 1
    kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK if ti.isblk() else stat.S_IFIFO
    return Entry(path, DEVICE, kind | perm, 0)


def walk(stream: IO[bytes], counts: Counter[str], what: str = "layer") -> Iterator[Entry]:
    """Yield the entries of an uncompressed tar stream (see the module docstring for the rules)."""
    seen: set[str] = set()
    buffered = io.BufferedReader(ForwardSeekable(stream), 1 << 20)
    try:
        tf = tarfile.TarFile(fileobj=buffered, mode="r", tarinfo=_SafeTarInfo)
    except tarfile.ReadError as exc:
        if "empty file" in str(exc):
            return
        raise ArchiveError(f"{what}: not a tar stream ({str(exc)[:120]})") from None
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{what}: not a tar stream ({str(exc)[:120]})") from None
    try:
        while True:
            try:
                ti = tf.next()
            except (tarfile.TarError, EOFError, ValueError, OverflowError, UnicodeError) as exc:
                raise ArchiveError(f"{what}: corrupt tar stream ({str(exc)[:120]})") from None
            tf.members = []  # type: ignore[attr-defined]  # stream mode keeps every header otherwise
            if ti is None:
                return
            path = normalise(ti.name, counts)
            if path is None or path == "":
                continue
            base = path.rsplit("/", 1)[-1]
            if base.startswith(WH_PREFIX):
                wh = _whiteout(path, base)
                if wh is not None:
                    yield wh
                continue
            if path in seen:
                counts["duplicate"] += 1
            else:
                seen.add(path)
            entry = _entry(path, ti, tf, seen, counts)
            if entry is not None:
                yield entry
    finally:
        tf.close()


def warning_lines(counts: Counter[str], prefix: str) -> list[str]:
    return [f"{prefix}: " + WARNINGS[k].format(n=n) for k, n in sorted(counts.items()) if n and k in WARNINGS]
