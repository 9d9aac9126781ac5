"""Stored inventories are zstd-compressed by the API's thread pool and the job threads at once: each thread has its
own compressor (a shared one crashed the server process in the full suite)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from containerguard.server.services.images import compress, decompress


def test_compress_and_decompress_from_many_threads() -> None:
    docs = [os.urandom(64) * 2000 + bytes([i]) * 50_000 for i in range(32)]

    def round_trip(doc: bytes) -> bool:
        return all(decompress(compress(doc)) == doc for _ in range(20))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, docs * 4))
