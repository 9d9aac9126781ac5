"""The tar walker's fast header path against tarfile's own reading of the same bytes.

``tarwalk.fast_header`` reads plain ustar/GNU headers without tarfile; every other header (PAX, GNU long
names, sparse, base-256 numbers, odd checksums, zero or short blocks) goes to tarfile. The property: on any
archive, written in any format and then mutated or cut, the walk yields exactly the entries (path, kind,
mode, size, link, content) and warnings it yields with the fast path switched off, or fails with the same
error.
"""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containerguard.artifact import tarwalk
from containerguard.errors import ArchiveError

BUDGET = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=True)

names = st.one_of(
    st.text(alphabet="abc./-_é ", min_size=1, max_size=30),
    st.text(alphabet="ab/", min_size=90, max_size=260),  # ustar prefix split, GNU long names, PAX paths
    st.sampled_from(["../x", "/etc/passwd", "d/.wh.f", ".wh..wh..opq", "dir/", "a//b/"]),
)
kinds = st.sampled_from([tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                         tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, b"Z"])
items = st.lists(st.tuples(names, kinds, names, st.binary(max_size=1500), st.integers(0, 0o7777)), max_size=10)


def build(entries: list[tuple[str, bytes, str, bytes, int]], fmt: int, global_pax: bool) -> bytes:
    buf = io.BytesIO()
    pax = {"comment": "global"} if global_pax and fmt == tarfile.PAX_FORMAT else None
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=pax) as tf:
        for name, kind, link, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mode = kind, link, mode
            if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


class Dribble(io.RawIOBase):
    """A stream that returns short reads of varying sizes (as a pipe, an HTTP body or the peek reader do)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos, self._n = data, 0, 3

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._n = self._n * 7 % 1531 + 1
        n = self._n if size is None or size < 0 else min(size, self._n)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def entries(blob: bytes, fast: bool, dribble: bool = False) -> tuple[list[Any], list[tuple[str, int]]] | str:
    saved = tarwalk.fast_header
    if not fast:
        tarwalk.fast_header = lambda *a: None  # type: ignore[assignment]
    counts: Counter[str] = Counter()
    out: list[Any] = []
    try:
        for e in tarwalk.walk(Dribble(blob) if dribble else io.BytesIO(blob), counts):  # type: ignore[arg-type]
            data = None
            if e.kind == tarwalk.FILE:
                with e.open() as fh:
                    data = fh.read(), fh.read()
            out.append((e.path, e.kind, e.mode, e.size, e.link, data))
    except ArchiveError as exc:
        return f"error: {exc}"
    finally:
        tarwalk.fast_header = saved  # type: ignore[assignment]
    return out, sorted(counts.items())


@BUDGET
@given(items, st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]), st.booleans(),
       st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), max_size=4), st.integers(0, 20_000))
def test_fast_path_reads_what_tarfile_reads(items, fmt, global_pax, flips, cut) -> None:
    try:
        raw = build(items, fmt, global_pax)
    except (ValueError, UnicodeError, tarfile.TarError):
        return  # tarfile refuses to write this header
    data = bytearray(raw)
    for pos, val in flips:
        data[pos % len(data)] = val
    blob = bytes(data[: cut or None])
    reference = entries(blob, fast=False)
    assert entries(blob, fast=True) == reference
    assert entries(blob, fast=True, dribble=True) == reference


@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, b"Z"])
@pytest.mark.parametrize("field,value", [
    ((100, 108), b"0000644 "), ((100, 108), b"    644\0"), ((124, 136), b"\x80" + b"\0" * 10 + b"\x05"),
    ((124, 136), b"00000000005\0"), ((124, 136), b"0000000000 \0"), ((124, 136), b"00000001000 "),
    ((148, 156), b"garbage!"), ((136, 148), b"\0" * 12), ((329, 337), b"0000000 "), ((329, 337), b"00000009"),
    ((345, 500), b"pre/fix\0".ljust(155, b"x")), ((0, 100), b"d/".ljust(100, b"\0")),
])
def test_odd_header_fields_read_as_tarfile_reads_them(kind: bytes, field: tuple[int, int], value: bytes) -> None:
    """The second header (the first one tarfile reads itself) with a field in an unusual form and its
    checksum recomputed; the third entry shows where each reader went on from there."""
    raw = bytearray(build([("first", tarfile.REGTYPE, "", b"a" * 600, 0o644), ("etc/f", kind, "t", b"hello", 0o644),
                           ("etc/g", tarfile.REGTYPE, "", b"world", 0o600)], tarfile.GNU_FORMAT, False))
    h = 512 * 3  # the second header
    raw[h + field[0]:h + field[1]] = value
    if field != (148, 156):
        chk = 256 + sum(raw[h:h + 148]) + sum(raw[h + 156:h + 512])
        raw[h + 148:h + 156] = b"%06o\0 " % chk
    assert entries(bytes(raw), fast=True) == entries(bytes(raw), fast=False)


def test_a_plain_archive_takes_the_fast_path() -> None:
    raw = build([(f"usr/bin/f{i}", tarfile.REGTYPE, "", b"x" * i, 0o755) for i in range(50)], tarfile.GNU_FORMAT, False)
    calls = []
    real = tarwalk.fast_header

    def spy(*a: Any) -> Any:
        r = real(*a)
        calls.append(r is not None)
        return r

    tarwalk.fast_header = spy  # type: ignore[assignment]
    try:
        got = entries(raw, fast=True)
    finally:
        tarwalk.fast_header = real  # type: ignore[assignment]
    assert isinstance(got, tuple) and len(got[0]) == 50
    assert calls.count(True) == 49  # every header but the first (tarfile reads that one when it opens)
