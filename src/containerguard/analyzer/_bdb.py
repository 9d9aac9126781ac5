"""A read-only reader of Berkeley DB *hash* files, just enough for rpm's ``Packages`` database.

Written from the documented on-disk layout (no native libdb needed, so images analyse anywhere). Pages are
read one at a time from a seekable stream, so memory stays flat whatever the file size.

Layout used (all integers in the file's byte order, told by the metadata page's magic):

* page 0, the hash metadata page: ``magic`` (0x061561) at offset 12, ``version`` at 16, ``pagesize`` at 20,
  ``encrypt_alg`` (byte) at 24, page ``type`` (byte, 8 = hash metadata) at 25, ``last_pgno`` at 32.
* every page starts with a 26-byte header: ``pgno`` at 8, ``next_pgno`` at 16, ``entries`` (u16) at 20,
  ``hf_offset`` (u16) at 22, ``type`` (byte) at 25; hash pages (types 2 and 13) follow it with ``entries``
  u16 offsets of their items, which alternate key, value.
* an item starts with its kind byte: H_KEYDATA (1) holds the bytes inline, up to the previous item's
  offset (or the page end for the first); H_OFFPAGE (3) holds ``pgno`` at +4 and the total length ``tlen``
  at +8 of a chain of overflow pages (type 7) whose ``hf_offset`` says how many bytes each carries after
  its 26-byte header.

The reader walks all pages in order and yields every key/value pair found on hash pages; this needs no
hashing and finds pairs in overflow buckets too. Anything inconsistent is reported as a problem string
and skipped; :class:`BdbError` means the file as a whole is not a readable hash database.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO

HASH_MAGIC = 0x061561
P_HASH_UNSORTED, P_OVERFLOW, P_HASHMETA, P_HASH = 2, 7, 8, 13
H_KEYDATA, H_DUPLICATE, H_OFFPAGE, H_OFFDUP = 1, 2, 3, 4
PAGE_HEADER = 26
MAX_VALUE = 64 * 1024 * 1024  # one rpm header is at most a few MB; refuse absurd lengths


class BdbError(ValueError):
    """The file is not a Berkeley DB hash database we can read."""


class BdbHashReader:
    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._f = stream
        self._size = size
        stream.seek(0)
        meta = stream.read(512)
        if len(meta) < 36:
            raise BdbError("file shorter than a Berkeley DB metadata page")
        for order in ("<", ">"):
            if struct.unpack_from(order + "I", meta, 12)[0] == HASH_MAGIC:
                self._o = order
                break
        else:
            raise BdbError("no Berkeley DB hash magic (not a BerkeleyDB hash database)")
        self.pagesize = struct.unpack_from(self._o + "I", meta, 20)[0]
        if self.pagesize < 512 or self.pagesize > 65536 or self.pagesize & (self.pagesize - 1):
            raise BdbError(f"BerkeleyDB page size {self.pagesize} out of range")
        if meta[24] != 0:
            raise BdbError("encrypted BerkeleyDB database")
        if meta[25] != P_HASHMETA:
            raise BdbError(f"BerkeleyDB metadata page type {meta[25]} is not hash")
        last = struct.unpack_from(self._o + "I", meta, 32)[0]
        on_disk = size // self.pagesize
        self.npages = min(last + 1, on_disk)
        self.truncated = last + 1 > on_disk

    def _page(self, pgno: int) -> bytes:
        self._f.seek(pgno * self.pagesize)
        page = self._f.read(self.pagesize)
        if len(page) != self.pagesize:
            raise BdbError(f"page {pgno} beyond the end of the file")
        return page

    def _overflow(self, pgno: int, tlen: int) -> bytes:
        if tlen > MAX_VALUE:
            raise BdbError(f"overflow item of {tlen} bytes is larger than {MAX_VALUE}")
        out = bytearray()
        seen: set[int] = set()
        while len(out) < tlen:
            if pgno == 0 or pgno >= self.npages or pgno in seen:
                raise BdbError(f"overflow chain broken at page {pgno} ({len(out)} of {tlen} bytes read)")
            seen.add(pgno)
            page = self._page(pgno)
            if page[25] != P_OVERFLOW:
                raise BdbError(f"page {pgno} in an overflow chain has type {page[25]}")
            used = struct.unpack_from(self._o + "H", page, 22)[0]
            if used > self.pagesize - PAGE_HEADER:
                raise BdbError(f"overflow page {pgno} claims {used} bytes")
            out += page[PAGE_HEADER:PAGE_HEADER + used]
            pgno = struct.unpack_from(self._o + "I", page, 16)[0]
        if len(out) != tlen:
            raise BdbError(f"overflow chain holds {len(out)} bytes, item says {tlen}")
        return bytes(out)

    def _item(self, page: bytes, offsets: list[int], i: int) -> bytes:
        off = offsets[i]
        end = self.pagesize if i == 0 else offsets[i - 1]
        if off < PAGE_HEADER or off >= end or end > self.pagesize:
            raise BdbError(f"item offset {off} out of range")
        kind = page[off]
        if kind == H_KEYDATA:
            return page[off + 1:end]
        if kind == H_OFFPAGE:
            if off + 12 > end:
                raise BdbError("off-page item truncated")
            pgno, tlen = struct.unpack_from(self._o + "II", page, off + 4)
            return self._overflow(pgno, tlen)
        if kind in (H_DUPLICATE, H_OFFDUP):
            raise BdbError("duplicate items are not used by rpm")
        raise BdbError(f"unknown item kind {kind}")

    def items(self) -> Iterator[tuple[bytes, bytes] | str]:
        """Each key/value pair, or a problem string for a pair or page that could not be read."""
        for pgno in range(1, self.npages):
            try:
                page = self._page(pgno)
            except BdbError as exc:
                yield str(exc)
                return
            if page[25] not in (P_HASH, P_HASH_UNSORTED):
                continue
            entries = struct.unpack_from(self._o + "H", page, 20)[0]
            if PAGE_HEADER + 2 * entries > self.pagesize:
                yield f"page {pgno}: {entries} entries do not fit"
                continue
            if entries % 2:
                yield f"page {pgno}: odd number of entries ({entries})"
                continue
            offsets = list(struct.unpack_from(f"{self._o}{entries}H", page, PAGE_HEADER))
            for i in range(0, entries, 2):
                try:
                    yield self._item(page, offsets, i), self._item(page, offsets, i + 1)
                except BdbError as exc:
                    yield f"page {pgno} item {i // 2}: {exc}"
        if self.truncated:
            yield f"file truncated: {self.npages} of the pages the metadata lists are present"

    def key_int(self, key: bytes) -> int | None:
        """rpm's keys are 4-byte package numbers in the file's byte order."""
        return struct.unpack(self._o + "I", key)[0] if len(key) == 4 else None
