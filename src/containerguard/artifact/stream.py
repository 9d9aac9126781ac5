"""Byte streams for layers: digest checking while reading, compression sniffing, bomb caps.

Everything here is a small ``io.RawIOBase``-like reader that wraps another one, so a layer goes
``blob (file, tar member or HTTP body) -> DigestReader -> decompressor -> LimitReader -> tar``
and is never held whole in memory. Digests are checked when the stream reaches its end: callers must
read to EOF (``drain``) before trusting what they parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import zlib
from collections.abc import Callable
from typing import IO, Any, cast

from containerguard.errors import ArchiveError, DigestMismatchError, LayerRefused

_inflate: Any
try:  # ISA-L's inflate is about twice as fast as zlib's, and a drop-in replacement
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    _inflate = zlib
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, _inflate.error)

CHUNK = 1 << 20

#: an optional ratio cap (off by default: a sparse disk image or a preallocated file of zeros legitimately
#: gzips beyond 1000:1); a bomb is stopped by the output and time bounds per layer below
BOMB_RATIO = 0
BOMB_MIN_BYTES = 64 << 20


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


#: bound on the uncompressed size of one layer ($CONTAINERGUARD_MAX_LAYER_BYTES, default 32 GiB)
MAX_LAYER_BYTES = int(_env_number("CONTAINERGUARD_MAX_LAYER_BYTES", 32 << 30))
#: bound on the tar entries of one layer ($CONTAINERGUARD_MAX_LAYER_ENTRIES, default 2 million): each entry
#: costs a few hundred bytes of file index, and a 45 MB gzip of empty-file headers holds 5 million of them
MAX_LAYER_ENTRIES = int(_env_number("CONTAINERGUARD_MAX_LAYER_ENTRIES", 2_000_000))
#: bound on the time spent reading one layer ($CONTAINERGUARD_LAYER_SECONDS, default 15 minutes)
MAX_LAYER_SECONDS = _env_number("CONTAINERGUARD_LAYER_SECONDS", 900.0)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_ALGOS = {"sha256": 64, "sha512": 128}


def parse_digest(digest: str) -> tuple[str, str]:
    """Split and validate ``algo:hex``; raises DigestMismatchError for anything else."""
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo not in _ALGOS or len(hexpart) != _ALGOS[algo] or not all(
        c in "0123456789abcdef" for c in hexpart
    ):
        raise DigestMismatchError(f"invalid digest {digest[:100]!r}")
    return algo, hexpart


def verify_bytes(data: bytes, digest: str, what: str = "content") -> None:
    algo, expected = parse_digest(digest)
    got = hashlib.new(algo, data).hexdigest()
    if got != expected:
        raise DigestMismatchError(f"{what} digest mismatch: expected {digest}, got {algo}:{got}")


def as_io(r: io.RawIOBase) -> IO[bytes]:
    """Our readers are binary streams; typeshed's RawIOBase is not spelt IO[bytes]."""
    return cast(IO[bytes], r)


class ReaderBase(io.RawIOBase):
    """A read-only, forward-only stream; subclasses implement ``_read(n)`` (n > 0)."""

    def readable(self) -> bool:
        return True

    def _read(self, n: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts: list[bytes] = []
            while True:
                b = self._read(CHUNK)
                if not b:
                    return b"".join(parts)
                parts.append(b)
        if size == 0:
            return b""
        return self._read(size)

    def readinto(self, buf: Any) -> int:
        data = self._read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _hash_worker(q: Any) -> None:
    """The Hasher's thread: ``(hash, data)`` updates in queue order until the ``None`` mark. A plain function
    holding only the queue, so an abandoned Hasher is collected (its ``__del__`` ends the thread)."""
    while True:
        item = q.get()
        try:
            if item is None:
                return
            item[0].update(item[1])
        finally:
            q.task_done()


class Hasher:
    """Digest updates run in a background thread, in the order they were queued.

    A layer is hashed twice (the compressed blob against its digest, the tar against its diff_id): about
    0.1 s of CPU for a 120 MB layer, as much as two thirds of the inflate. Done in the read-ahead thread it
    would lengthen the one stage that cannot be split; hashlib releases the GIL on buffers of 2 KiB and
    more, so here it runs on another core beside the inflate and the tar walker. ``wait`` returns when every
    queued update is done (a digest is read only after it); the queue is bounded, so a slow hasher slows
    the reader instead of holding the layer in memory.
    """

    def __init__(self, depth: int = 16) -> None:
        import queue

        self._q: queue.Queue[tuple[Any, bytes] | None] = queue.Queue(depth)
        self._started = False
        self._closed = False

    def update(self, h: Any, data: bytes) -> None:
        if self._closed:
            raise ValueError("Hasher is closed")
        if not self._started:
            import threading

            threading.Thread(target=_hash_worker, args=(self._q,), name="layer-hasher", daemon=True).start()
            self._started = True
        self._q.put((h, data))

    def wait(self) -> None:
        if self._started:
            self._q.join()

    def close(self) -> None:
        """End the thread once the queued updates are done (idempotent)."""
        if self._started and not self._closed:
            self._q.put(None)
        self._closed = True

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class DigestReader(ReaderBase):
    """Hashes what passes through; at EOF compares with ``digest`` (and ``size`` when known).
    With a ``hasher`` the hashing runs in its thread (:class:`Hasher`); the check at EOF waits for it."""

    def __init__(self, raw: IO[bytes], digest: str, what: str, size: int | None = None,
                 on_bytes: Callable[[int], None] | None = None, hasher: Hasher | None = None) -> None:
        algo, self._expected = parse_digest(digest)
        self._raw = raw
        self._h = hashlib.new(algo)
        self._digest = digest
        self._what = what
        self._size = size
        self.count = 0
        self._done = False
        self._on_bytes = on_bytes
        self._hasher = hasher

    def _read(self, n: int) -> bytes:
        if self._done:
            return b""
        data = self._raw.read(n)
        if data:
            if self._hasher is not None:
                self._hasher.update(self._h, data)
            else:
                self._h.update(data)
            self.count += len(data)
            if self._on_bytes is not None:
                self._on_bytes(len(data))
            if self._size is not None and self.count > self._size:
                raise DigestMismatchError(f"{self._what}: more data than the {self._size} bytes declared")
            return data
        self._done = True
        self._check()
        return b""

    def _check(self) -> None:
        if self._hasher is not None:
            self._hasher.wait()
        got = self._h.hexdigest()
        if got != self._expected:
            algo = self._digest.split(":", 1)[0]
            raise DigestMismatchError(f"{self._what} digest mismatch: expected {self._digest}, got {algo}:{got}")
        if self._size is not None and self._size > 0 and self.count != self._size:
            raise DigestMismatchError(f"{self._what}: {self.count} bytes read, {self._size} declared")

    def close(self) -> None:
        self._raw.close()
        if self._hasher is not None:
            self._hasher.close()
        super().close()


class PeekReader(ReaderBase):
    """Lets the first bytes be looked at without consuming them."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._buf = b""

    def peek(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = self._raw.read(n - len(self._buf))
            if not more:
                break
            self._buf += more
        return self._buf[:n]

    def _read(self, n: int) -> bytes:
        if self._buf:
            out, self._buf = self._buf[:n], self._buf[n:]
            return out
        return self._raw.read(n)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Counter:
    def __init__(self) -> None:
        self.n = 0


class CountingReader(ReaderBase):
    def __init__(self, raw: IO[bytes], counter: _Counter) -> None:
        self._raw = raw
        self._c = counter

    def _read(self, n: int) -> bytes:
        data = self._raw.read(n)
        self._c.n += len(data)
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


class GzipReader(ReaderBase):
    """Multi-member gzip decoder that reports truncation and corruption as ArchiveError."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._d: Any = None  # the current member's decompressor, None between members
        self._inbuf = b""
        self._pending = b""
        self._eof = False
        self._members = 0

    def _read(self, n: int) -> bytes:
        while True:
            if self._pending:
                if len(self._pending) <= n:
                    out, self._pending = self._pending, b""
                else:
                    out, self._pending = self._pending[:n], self._pending[n:]
                return out
            if self._eof:
                return b""
            if not self._inbuf:
                self._inbuf = self._raw.read(CHUNK)
                if not self._inbuf:
                    if self._d is not None or self._members == 0:
                        raise ArchiveError("truncated gzip stream (unexpected end of data)")
                    self._eof = True
                    return b""
            if self._d is None:
                stripped = self._inbuf.lstrip(b"\0")  # zero padding after the last member is tolerated
                if not stripped:
                    self._inbuf = b""
                    continue
                if stripped[0] != 0x1F:
                    blame_digest(self._raw)
                    raise ArchiveError("corrupt gzip stream: garbage after the compressed data")
                self._d = _inflate.decompressobj(16 + zlib.MAX_WBITS)
                self._members += 1
                self._inbuf = stripped
            try:
                self._pending = self._d.decompress(self._inbuf, CHUNK)
            except _INFLATE_ERRORS as exc:
                blame_digest(self._raw)
                raise ArchiveError(f"corrupt gzip stream: {exc}") from None
            self._inbuf = self._d.unconsumed_tail
            if self._d.eof:
                self._inbuf = self._d.unused_data + self._inbuf
                self._d = None

    def close(self) -> None:
        self._raw.close()
        super().close()


class ZstdReader(ReaderBase):
    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._raw = raw
        self._r = zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
        self._err = zstandard.ZstdError

    def _read(self, n: int) -> bytes:
        try:
            data: bytes = self._r.read(n)
        except self._err as exc:
            blame_digest(self._raw)
            raise ArchiveError(f"corrupt zstd stream: {exc}") from None
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


class LimitReader(ReaderBase):
    """Refuses decompression bombs: a ratio cap beyond a minimum, and an absolute cap."""

    def __init__(self, raw: IO[bytes], compressed: _Counter | None, what: str, *,
                 ratio: int = BOMB_RATIO, min_bytes: int = BOMB_MIN_BYTES, max_bytes: int | None = None,
                 max_seconds: float | None = None) -> None:
        import time

        self._raw = raw
        self._c = compressed
        self._what = what
        self._ratio = ratio
        self._min = min_bytes
        self._max = MAX_LAYER_BYTES if max_bytes is None else max_bytes
        self._clock = time.monotonic
        self._deadline = self._clock() + (MAX_LAYER_SECONDS if max_seconds is None else max_seconds)
        self.count = 0

    def _read(self, n: int) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        if self.count > self._max:
            raise LayerRefused(f"{self._what}: refused: expands beyond the {self._max} byte bound per layer "
                               "(decompression bomb?)")
        if self._clock() > self._deadline:
            raise LayerRefused(f"{self._what}: refused: still expanding after the time bound per layer "
                               f"(decompression bomb?) at {self.count >> 20} MiB")
        if self._ratio and self._c is not None and self.count > self._min and self.count > self._ratio * max(self._c.n, 1):
            raise LayerRefused(
                f"{self._what}: decompression bomb refused (expands more than {self._ratio}:1 "
                f"after {self._min >> 20} MiB)")
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


_DONE = b""  # the producer's end-of-stream mark (chunks are never empty)


def _produce(raw: IO[bytes], q: Any, stop: Any) -> None:
    """The ThreadedReader's thread: chunks of ``raw`` into ``q`` until EOF, an error or ``stop``.
    A plain function, so the reader holds the thread and not the other way round (its __del__ stops it)."""
    import queue

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    item: object
    try:
        while not stop.is_set():
            data = raw.read(CHUNK)
            if not data:
                item = _DONE
                break
            put(data)
        else:
            return
    except BaseException as exc:  # handed to the reading thread, raised there
        item = exc
    finally:
        with contextlib.suppress(Exception):  # closing a file or an HTTP body
            raw.close()
    put(item)


class ThreadedReader(ReaderBase):
    """Reads ``raw`` ahead in a background thread, a bounded queue of chunks between the two.

    The chain behind it (blob read, blob digest, inflate, diff_id digest) is C code that releases the GIL
    (isal, hashlib on large buffers, file reads), so a layer's decompression runs beside the tar walker
    and the analyzers instead of before them. The thread starts at the first read; an error it meets is
    raised by the reader at the point of the stream where it happened; ``close`` stops it.
    """

    def __init__(self, raw: IO[bytes], depth: int = 8) -> None:
        import queue
        import threading

        self._raw = raw
        self._q: queue.Queue[Any] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._chunk = b""
        self._off = 0
        self._end: BaseException | None = None
        self._eof = False

    def _next_chunk(self) -> bool:
        if self._eof:
            if self._end is not None:
                raise self._end
            return False
        if self._thread is None:
            import threading

            self._thread = threading.Thread(target=_produce, args=(self._raw, self._q, self._stop),
                                            name="layer-reader", daemon=True)
            self._thread.start()
        item = self._q.get()
        if isinstance(item, BaseException):
            self._eof, self._end = True, item
            raise item
        if item is _DONE or not item:
            self._eof = True
            return False
        self._chunk, self._off = item, 0
        return True

    def _read(self, n: int) -> bytes:
        if self._off >= len(self._chunk) and not self._next_chunk():
            return b""
        chunk, off = self._chunk, self._off
        if off == 0 and len(chunk) <= n:
            self._chunk = b""
            return chunk
        self._off = off + n
        return chunk[off:off + n]

    def close(self) -> None:
        if self.closed:
            return
        self._stop.set()
        if self._thread is not None:
            while True:  # unblock a producer waiting on a full queue
                try:
                    self._q.get_nowait()
                except Exception:
                    break
            self._thread.join(5.0)  # it closes ``raw`` itself (a network read may hang beyond this)
        else:
            self._raw.close()
        super().close()


def sniff_compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def decompressed(raw: IO[bytes], what: str, *, diff_id: str | None = None, limits: dict[str, int] | None = None,
                 hasher: Hasher | None = None) -> IO[bytes]:
    """Wrap ``raw`` (a layer blob) into an uncompressed stream, detecting the format by magic bytes.

    When ``diff_id`` is given the uncompressed bytes are verified against it at EOF, hashed in ``hasher``'s
    thread when one is given (and in a Hasher of its own for a compressed layer).
    """
    peek = PeekReader(raw)
    kind = sniff_compression(peek.peek(4))
    counter = _Counter()
    out: IO[bytes] = as_io(peek)
    if kind != "none":
        counted = as_io(CountingReader(out, counter))
        out = as_io(GzipReader(counted) if kind == "gzip" else ZstdReader(counted))
        out = as_io(LimitReader(out, counter, what, **(limits or {})))
    if diff_id:
        if hasher is None and kind != "none":
            hasher = Hasher()
        out = as_io(DigestReader(out, diff_id, f"{what} (uncompressed)", hasher=hasher))
    return as_io(ThreadedReader(out)) if kind != "none" else out


def blame_digest(raw: IO[bytes]) -> None:
    """Before reporting corrupt data, read the rest of the blob: if it does not match its digest, the
    DigestMismatchError raised at EOF is the truer reason (a registry or archive that lies)."""
    try:
        drain(raw)
    except DigestMismatchError:
        raise
    except Exception:  # the corruption itself is what gets reported
        return


def drain(stream: IO[bytes]) -> int:
    """Read to EOF (so digests get checked); returns the bytes skipped."""
    n = 0
    while True:
        b = stream.read(CHUNK)
        if not b:
            return n
        n += len(b)
