"""A read-only reader of rpm's own NDB package database (``Packages.db``; SUSE, rpm >= 4.15 ``ndb`` backend).

Written from rpm's documented layout (lib/backend/ndb/rpmpkg.c); all integers little-endian:

* bytes 0-31, the header: magic ``RpmP`` at 0, version (0) at 4, generation at 8, ``slotnpages`` at 12.
* ``slotnpages`` pages of 4096 bytes hold 16-byte slots (the first two slot places are the header):
  magic ``Slot``, ``pkgidx``, ``blkoff``, ``blkcnt``; ``blkoff`` 0 is a free slot. Offsets and counts are
  in 16-byte blocks.
* a blob at ``blkoff * 16``: a 16-byte head (magic ``BlbS``, ``pkgidx``, timestamp, ``bloblen``), the rpm
  header blob, padding, and in the last 12 bytes of its ``blkcnt`` blocks a tail: the Adler-32 of all
  bytes before the tail, ``bloblen`` again, magic ``BlbE``.

Each blob is checked (magics, lengths, checksum) before it is returned; a bad one is a problem string.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import IO

PKGDB_MAGIC = int.from_bytes(b"RpmP", "little")
SLOT_MAGIC = int.from_bytes(b"Slot", "little")
BLOBHEAD_MAGIC = int.from_bytes(b"BlbS", "little")
BLOBTAIL_MAGIC = int.from_bytes(b"BlbE", "little")
PAGE_SIZE, SLOT_SIZE, BLK_SIZE = 4096, 16, 16
HEADER_SIZE, BLOBHEAD_SIZE, BLOBTAIL_SIZE = 32, 16, 12
MAX_SLOT_PAGES = 4096  # one million packages
MAX_BLOB = 64 * 1024 * 1024


class NdbError(ValueError):
    """The file is not an rpm NDB database we can read."""


def ndb_blobs(stream: IO[bytes], size: int) -> Iterator[tuple[int, bytes] | str]:
    """Each (package index, rpm header blob), or a problem string for a slot whose blob is unreadable."""
    stream.seek(0)
    head = stream.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE:
        raise NdbError("file shorter than the NDB header")
    magic, version, _generation, slotnpages = struct.unpack_from("<IIII", head, 0)
    if magic != PKGDB_MAGIC:
        raise NdbError("no RpmP magic (not an rpm NDB database)")
    if version != 0:
        raise NdbError(f"NDB version {version} not supported")
    if slotnpages == 0 or slotnpages > MAX_SLOT_PAGES:
        raise NdbError(f"NDB slot page count {slotnpages} out of range")
    if slotnpages * PAGE_SIZE > size:
        raise NdbError("NDB file truncated inside its slot pages")
    stream.seek(0)
    slot_area = stream.read(slotnpages * PAGE_SIZE)
    if len(slot_area) != slotnpages * PAGE_SIZE:
        raise NdbError("NDB file truncated inside its slot pages")
    min_blk = slotnpages * PAGE_SIZE // BLK_SIZE
    file_blks = size // BLK_SIZE
    for off in range(HEADER_SIZE, len(slot_area), SLOT_SIZE):
        smagic, pkgidx, blkoff, blkcnt = struct.unpack_from("<IIII", slot_area, off)
        slotno = off // SLOT_SIZE
        if smagic != SLOT_MAGIC:
            yield f"slot {slotno}: bad slot magic"
            continue
        if blkoff == 0:
            continue
        if not pkgidx or blkoff < min_blk or blkcnt * BLK_SIZE < BLOBHEAD_SIZE + BLOBTAIL_SIZE:
            yield f"slot {slotno}: bad entry (pkgidx={pkgidx} blkoff={blkoff} blkcnt={blkcnt})"
            continue
        if blkoff + blkcnt > file_blks:
            yield f"slot {slotno}: package {pkgidx} lies beyond the end of the file (truncated)"
            continue
        if blkcnt * BLK_SIZE > MAX_BLOB:
            yield f"slot {slotno}: package {pkgidx} blob of {blkcnt * BLK_SIZE} bytes is too large"
            continue
        stream.seek(blkoff * BLK_SIZE)
        raw = stream.read(blkcnt * BLK_SIZE)
        problem = _check_blob(raw, pkgidx, blkcnt)
        if problem:
            yield f"package {pkgidx}: {problem}"
            continue
        bloblen = struct.unpack_from("<I", raw, 12)[0]
        yield pkgidx, raw[BLOBHEAD_SIZE:BLOBHEAD_SIZE + bloblen]


def _check_blob(raw: bytes, pkgidx: int, blkcnt: int) -> str:
    if len(raw) != blkcnt * BLK_SIZE:
        return "blob truncated"
    hmagic, hidx, _tstamp, bloblen = struct.unpack_from("<IIII", raw, 0)
    if hmagic != BLOBHEAD_MAGIC or hidx != pkgidx:
        return "bad blob head"
    if blkcnt != (BLOBHEAD_SIZE + bloblen + BLOBTAIL_SIZE + BLK_SIZE - 1) // BLK_SIZE:
        return f"blob length {bloblen} does not match its {blkcnt} blocks"
    adler, tlen, tmagic = struct.unpack_from("<III", raw, len(raw) - BLOBTAIL_SIZE)
    if tmagic != BLOBTAIL_MAGIC or tlen != bloblen:
        return "bad blob tail"
    if zlib.adler32(raw[:-BLOBTAIL_SIZE], 1) != adler:
        return "blob checksum mismatch"
    return ""
