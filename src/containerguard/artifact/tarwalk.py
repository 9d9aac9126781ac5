"""Safe, streaming walk over one layer's tar: normalised paths, hostile entries skipped and counted.

Nothing is ever extracted: entries are yielded in stream order and a caller that wants a file's bytes
reads them from ``Entry.open()`` before asking for the next entry. Plain ustar/GNU headers (the great
majority: every header of a Debian base layer) are read by :func:`fast_header`, exactly as tarfile would
read them but without building a TarInfo, and the content nobody asked for is skipped by dropping whole
chunks of the stream, never copied; every other header (PAX, GNU long names, sparse files, base-256
numbers, odd checksums, the end of the archive) is read by ``tarfile`` itself over the same stream
(``tests/fuzz/test_fuzz_tar_fast_path.py`` holds the two to the same result). Every safety decision is ours:

* absolute names are made relative (as Docker does); names with ``..`` components are skipped (counted);
* names deeper than MAX_DEPTH components or longer than MAX_PATH bytes are skipped (counted);
* hard links must name an earlier file of the same layer (a link to a link is followed to its file; a hard
  link of a symlink or device is one); others (outside the layer, itself, a directory) are skipped (counted);
* device files and FIFOs are recorded in the file index but have no content (counted);
* a second entry for the same path replaces the first (counted);
* bytes of a name (or link target) that are not UTF-8 are written as ``\\xNN`` escapes (counted), so every
  path a report shows is valid text (JSON, SARIF, HTML and the terminal all need UTF-8);
* PAX / GNU long-name headers bigger than MAX_HEADER bytes are refused (they would be read into memory);
* a truncated or corrupt stream raises ArchiveError;
* more than ``stream.MAX_LAYER_ENTRIES`` entries raise LayerRefused (the file index is held in memory).

Whiteouts come out as entries of kind WHITEOUT (``dir/.wh.NAME`` -> ``dir/NAME``) and OPAQUE
(``dir/.wh..wh..opq`` -> ``dir``).
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from containerguard.artifact import stream as stream_bounds
from containerguard.errors import ArchiveError, LayerRefused

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
    "not_utf8": "{n} names that are not valid UTF-8 (shown with \\xNN escapes)",
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


def printable_name(name: str, counts: Counter[str] | None = None) -> str:
    """``name`` as valid Unicode: the undecodable bytes a surrogateescape decode left in it (lone surrogates,
    which no UTF-8 writer accepts) become ``\\xNN``; counted under ``not_utf8`` when ``counts`` is given."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        if counts is not None:
            counts["not_utf8"] += 1
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate no byte stands for (not from a decode): escape it as is
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")


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


class TarStream(io.RawIOBase):
    """The layer stream as tarfile's file object, forward only: ``tell``, ``seek`` forward (skipped bytes are
    dropped chunk by chunk, never copied) and ``block`` (the next 512 bytes, not consumed) for the fast
    header path. Chunks are kept as the read-ahead hands them over (1 MiB), so a header is a small slice."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._buf = b""  # the current chunk
        self._off = 0  # read position in it
        self._base = 0  # stream offset of _buf[0]
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._base + self._off

    def _more(self) -> bool:
        """Append the next chunk to the unread rest of the current one; False at the end of the stream."""
        if self._eof:
            return False
        data = self._raw.read(CHUNK)
        if not data:
            self._eof = True
            return False
        rest = self._buf[self._off:]
        self._base += self._off
        self._buf, self._off = (rest + data if rest else data), 0
        return True

    def block(self) -> bytes:
        """The next 512 bytes without consuming them (fewer at the end of the stream)."""
        while len(self._buf) - self._off < BLOCK and self._more():
            pass
        return self._buf[self._off:self._off + BLOCK]

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while b := self.read(CHUNK):
                parts.append(b)
            return b"".join(parts)
        buf, off = self._buf, self._off
        if len(buf) - off >= size:  # the common case: within the current chunk
            if off == 0 and size == len(buf):
                self._off = size
                return buf
            self._off = off + size
            return buf[off:off + size]
        # a full read across chunks (tarfile expects one): short only at the end of the stream
        parts = [buf[off:]] if off < len(buf) else []
        got = len(buf) - off
        self._base += len(buf)
        self._buf, self._off = b"", 0
        while got < size and not self._eof:
            data = self._raw.read(CHUNK)
            if not data:
                self._eof = True
                break
            if got + len(data) <= size:
                parts.append(data)
                got += len(data)
                self._base += len(data)
            else:
                parts.append(data[:size - got])
                self._buf, self._off = data, size - got
                got = size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.tell()
        elif whence != 0:
            raise ArchiveError("tar stream: seek from the end is not possible")
        skip = pos - self.tell()
        if skip < 0:
            raise ArchiveError("tar stream: backward seek")
        while skip > 0:
            avail = len(self._buf) - self._off
            if skip <= avail:
                self._off += skip
                break
            skip -= avail
            self._base += len(self._buf)
            self._buf, self._off = b"", 0
            if not self._more():
                break  # the end of the stream: tell() says how far it got
        return self.tell()

    def extractfile(self, size: int) -> IO[bytes]:
        """The ``size`` bytes of content at the current position (an entry the fast path read)."""
        return cast(IO[bytes], Bounded(self, size))


class Bounded(io.RawIOBase):
    """At most ``size`` bytes of ``raw``: a regular file's content read from the TarStream (shorter than its
    size when the stream ends early: the reader compares the size, a truncated layer), or a ``dir:`` file
    read as the walk saw it. ``owns``: closing this closes ``raw``."""

    def __init__(self, raw: IO[bytes] | TarStream, size: int, *, owns: bool = False) -> None:
        self._s = raw
        self._left = size
        self._owns = owns

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        if n <= 0:
            return b""
        data = self._s.read(n)
        self._left -= len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._owns:
            self._s.close()
        super().close()


BLOCK = 512
CHUNK = 1 << 20


def _num(w: int) -> bytes:
    """A numeric field of width ``w`` in the forms tar writers use (zero-padded octal, then NUL or space
    terminators; or all NULs), which tarfile reads as the same number; anything else takes tarfile's path."""
    return rb"(?:[0-7]{%d}|[0-7]{%d}[\0 ]|[0-7]{%d}[\0 ]{2}|\0{%d})" % (w, w - 1, w - 2, w)


#: one ustar/GNU header of a plain type (file, hard link, symlink, device, directory, FIFO, contiguous file):
#: name, mode, size, checksum, type, linkname, prefix captured; the other numeric fields only validated
_PLAIN_HEADER = re.compile(
    rb"(.{100})(%s)%s%s(%s)%s(%s)([0-7\0])(.{100}).{72}%s%s(.{155}).{12}"
    % (_num(8), _num(8), _num(8), _num(12), _num(12), _num(8), _num(8), _num(8)), re.DOTALL).fullmatch
_REG_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


def _nts(field: bytes, encoding: str, errors: str) -> str:
    p = field.find(b"\0")
    return (field if p < 0 else field[:p]).decode(encoding, errors)


def fast_header(buf: bytes, encoding: str, errors: str) -> tuple[str, bytes, int, int, str] | None:
    """(name, type, mode, size, linkname) of a plain header, exactly as tarfile reads it; None for anything
    else (PAX and GNU extension headers, sparse or unknown types, base-256 numbers, a checksum that is not
    the plain unsigned sum, a short or zero block), which tarfile then reads itself."""
    m = _PLAIN_HEADER(buf) if len(buf) == BLOCK else None
    if m is None:
        return None
    name_f, mode_f, size_f, chk_f, typ, link_f, prefix_f = m.groups()
    if int(chk_f.rstrip(b"\0 ") or b"0", 8) != 256 + sum(buf) - sum(chk_f):
        return None
    try:
        name = _nts(name_f, encoding, errors)
        link = _nts(link_f, encoding, errors)
        prefix = _nts(prefix_f, encoding, errors)
    except UnicodeError:
        return None
    # what tarfile's frombuf and _proc_builtin do, in their order
    if typ == tarfile.AREGTYPE and name.endswith("/"):
        typ = tarfile.DIRTYPE
    if typ == tarfile.DIRTYPE:
        name = name.rstrip("/")
    if prefix:
        name = prefix + "/" + name
    if typ == tarfile.DIRTYPE:
        name = name.rstrip("/")
    return name, typ, int(mode_f.rstrip(b"\0 ") or b"0", 8), int(size_f.rstrip(b"\0 ") or b"0", 8), link


def _whiteout(path: str, base: str) -> Entry | None:
    """The OPAQUE or WHITEOUT entry a ``.wh.`` name stands for (None for a malformed one)."""
    parent = path[: -len(base)].rstrip("/")
    if base == WH_OPAQUE:
        return Entry(parent, OPAQUE, 0, 0)
    target = base[len(WH_PREFIX):]
    if target and target not in (".", ".."):
        return Entry(f"{parent}/{target}" if parent else target, WHITEOUT, 0, 0)
    return None


def _hardlink(path: str, perm: int, linkname: str, seen: dict[str, str], links: dict[str, str],
              counts: Counter[str]) -> Entry | None:
    """A hard link as what it stands for: a HARDLINK to the regular file that holds the content (a link to
    a link is followed to it), the symlink or device it names (a hard link of one is one), or None
    (counted) for a link to nothing earlier in the layer, to itself or to a directory."""
    hl = normalise(linkname, Counter())
    kind = seen.get(hl) if hl and hl != path else None
    if kind is None or kind == DIR:
        counts["bad_hardlink"] += 1
        return None
    link = links.get(hl or "", "")
    if kind == HARDLINK:
        return Entry(path, HARDLINK, stat.S_IFREG | perm, 0, link)
    if kind == SYMLINK:
        return Entry(path, SYMLINK, stat.S_IFLNK | perm, 0, link)
    if kind == DEVICE:
        counts["device"] += 1
        return Entry(path, DEVICE, perm, 0)
    return Entry(path, HARDLINK, stat.S_IFREG | perm, 0, hl or "")


def _entry(path: str, typ: bytes, mode: int, size: int, linkname: str, source: Any, info: Any,
           seen: dict[str, str], links: dict[str, str], counts: Counter[str]) -> Entry | None:
    """The Entry of one (non-whiteout) tar member; None for a hard link that leads nowhere (see
    :func:`_hardlink`). ``source``'s ``extractfile(info)`` gives a regular file's content."""
    perm = mode & 0o7777
    if typ in _REG_TYPES or typ == tarfile.GNUTYPE_SPARSE:
        return Entry(path, FILE, stat.S_IFREG | perm, size, "", source, info)
    if typ == tarfile.DIRTYPE:
        return Entry(path, DIR, stat.S_IFDIR | perm, 0)
    if typ == tarfile.SYMTYPE:
        if symlink_escapes(path, linkname):
            counts["escaping_symlink"] += 1
        return Entry(path, SYMLINK, stat.S_IFLNK | perm, 0, linkname)
    if typ == tarfile.LNKTYPE:
        return _hardlink(path, perm, linkname, seen, links, counts)
    counts["device"] += 1
    kind = stat.S_IFCHR if typ == tarfile.CHRTYPE else stat.S_IFBLK if typ == tarfile.BLKTYPE else stat.S_IFIFO
    return Entry(path, DEVICE, kind | perm, 0)


def _open_tar(ts: TarStream, what: str) -> tarfile.TarFile | None:
    try:
        return tarfile.TarFile(fileobj=cast(IO[bytes], ts), mode="r", tarinfo=_SafeTarInfo)
    except tarfile.ReadError as exc:
        if "empty file" in str(exc):
            return None
        raise ArchiveError(f"{what}: not a tar stream ({str(exc)[:120]})") from None
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{what}: not a tar stream ({str(exc)[:120]})") from None


def _members(ts: TarStream, tf: tarfile.TarFile, what: str) -> Iterator[tuple[str, bytes, int, int, str, Any, Any]]:
    """(name, type, mode, size, linkname, source, info) of each member, in stream order. A plain header is
    read by :func:`fast_header` (no TarInfo, content skipped without a copy); any other, and every header
    after a global PAX header, by tarfile, which then also owns the stream position."""
    encoding, errors = tf.encoding or "utf-8", tf.errors or "surrogateescape"
    first = True
    while True:
        plain = None
        if not first and not tf.pax_headers:
            off = tf.offset  # where tarfile would read the next header
            if ts.tell() != off and ts.seek(off) != off:
                raise ArchiveError(f"{what}: corrupt tar stream (unexpected end of data)")
            plain = fast_header(ts.block(), encoding, errors)
        first = False
        if plain is not None:
            name, typ, mode, size, link = plain
            ts.seek(off + BLOCK)
            tf.offset = off + BLOCK + (-(-size // BLOCK) * BLOCK if typ in _REG_TYPES else 0)
            yield name, typ, mode, size, link, ts, size
            continue
        try:
            ti = tf.next()
        except (tarfile.TarError, EOFError, ValueError, OverflowError, UnicodeError) as exc:
            raise ArchiveError(f"{what}: corrupt tar stream ({str(exc)[:120]})") from None
        tf.members = []  # type: ignore[attr-defined]  # stream mode keeps every header otherwise
        if ti is None:
            return
        yield ti.name, ti.type, ti.mode, ti.size, ti.linkname, tf, ti


def walk(stream: IO[bytes], counts: Counter[str], what: str = "layer") -> Iterator[Entry]:
    """Yield the entries of an uncompressed tar stream (see the module docstring for the rules)."""
    seen: dict[str, str] = {}  # path -> kind of the entries met so far
    links: dict[str, str] = {}  # path -> target of the symlinks and hard links among them
    ts = TarStream(stream)
    tf = _open_tar(ts, what)
    if tf is None:
        return
    cap = stream_bounds.MAX_LAYER_ENTRIES
    try:
        for n, (name, typ, mode, size, link, source, info) in enumerate(_members(ts, tf, what), 1):
            if n > cap:
                raise LayerRefused(f"{what}: refused: more than {cap} tar entries (the bound per layer; "
                                   "CONTAINERGUARD_MAX_LAYER_ENTRIES raises it)")
            path = normalise(printable_name(name, counts), counts)
            link = printable_name(link)
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
            entry = _entry(path, typ, mode, size, link, source, info, seen, links, counts)
            if entry is None:
                continue
            seen[path] = entry.kind
            if entry.link:
                links[path] = entry.link
            else:
                links.pop(path, None)
            yield entry
    finally:
        tf.close()


def warning_lines(counts: Counter[str], prefix: str) -> list[str]:
    return [f"{prefix}: " + WARNINGS[k].format(n=n) for k, n in sorted(counts.items()) if n and k in WARNINGS]
