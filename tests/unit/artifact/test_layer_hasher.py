"""The background Hasher behind a layer's two digests: same digests as hashing inline, in any read sizes,
mismatches still raised at EOF, and its thread ends when the stream is closed."""

from __future__ import annotations

import gzip
import hashlib
import io
import threading

import pytest

from containerguard.artifact.stream import DigestReader, Hasher, decompressed, drain
from containerguard.errors import DigestMismatchError


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def test_updates_are_hashed_in_order_whatever_their_sizes() -> None:
    data = bytes(range(256)) * 40_000
    h, hasher = hashlib.sha256(), Hasher(depth=2)
    off, n = 0, 1
    while off < len(data):  # tiny and large pieces, through a queue shorter than the pieces
        hasher.update(h, data[off:off + n])
        off += n
        n = n * 5 % 1_500_007 + 1
    hasher.wait()
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    hasher.close()
    with pytest.raises(ValueError):
        hasher.update(h, b"late")


def test_both_digests_of_a_layer_in_one_hasher() -> None:
    raw = bytes(range(256)) * 20_000
    blob = gzip.compress(raw, 1)
    hasher = Hasher()
    s = decompressed(DigestReader(io.BytesIO(blob), sha(blob), "blob", size=len(blob), hasher=hasher), "t",
                     diff_id=sha(raw), hasher=hasher)
    assert drain(s) == len(raw)
    s.close()
    for bad_blob, bad_diff in ((sha(b"x"), sha(raw)), (sha(blob), sha(b"y"))):
        hasher = Hasher()
        s = decompressed(DigestReader(io.BytesIO(blob), bad_blob, "blob", hasher=hasher), "t", diff_id=bad_diff,
                         hasher=hasher)
        with pytest.raises(DigestMismatchError):
            drain(s)
        s.close()
    for t in threading.enumerate():
        if t.name == "layer-hasher":
            t.join(5.0)
    assert not [t for t in threading.enumerate() if t.name == "layer-hasher"]
