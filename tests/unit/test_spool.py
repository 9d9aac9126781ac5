"""The shared spool (containerguard.spool) with the server unreachable: emitting never waits, the spool stays
within its bound, and what it had to drop is counted and reported with the next batch."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from containerguard.spool import BatchUplink


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def test_emit_never_waits_and_the_spool_stays_bounded(tmp_path: Path) -> None:
    up = BatchUplink(f"http://127.0.0.1:{_closed_port()}/x", "cg_token", tmp_path, items_key="decisions",
                     batch_size=50, flush_interval=0.05, max_bytes=40_000)
    try:
        t0 = time.process_time()
        for i in range(5000):
            up.emit({"n": i, "pad": "x" * 100})
        # CPU time (not wall: the machine is shared): no I/O, no retry, no waiting happens in emit
        assert (time.process_time() - t0) / 5000 < 0.001
        deadline = time.monotonic() + 10
        while up._buf and time.monotonic() < deadline:
            time.sleep(0.05)
        up.flush()
        files = sorted(tmp_path.glob("*.json"))
        assert sum(f.stat().st_size for f in files) <= 40_000
        kept = sum(len(json.loads(f.read_bytes())["decisions"]) for f in files)
        assert kept + up.dropped == 5000 and up.dropped > 0
        # a later batch tells the server how many were lost (the last drop waits for the next batch)
        up.emit({"n": "last"})
        up.flush()
        batches = [json.loads(f.read_bytes()) for f in sorted(tmp_path.glob("*.json"))]
        assert batches[-1]["decisions"][-1]["n"] == "last"
        assert any(b["dropped"] for b in batches)
        assert all(len(d["uid"]) == 32 for d in batches[-1]["decisions"])
    finally:
        up.close(drain_seconds=0)
    # what was not sent stays spooled for the next start
    assert list(tmp_path.glob("*.json"))


def test_a_full_buffer_drops_the_oldest_items_counted(tmp_path: Path) -> None:
    up = BatchUplink(f"http://127.0.0.1:{_closed_port()}/x", "cg_token", tmp_path, batch_size=10,
                     flush_interval=3600, max_buffer=100)
    try:
        up._stop_flush.set()
        up._full.set()
        up._flusher.join(5)
        for i in range(250):
            up.emit({"n": i})
        assert len(up._buf) == 100 and up.dropped == 150
        assert [x["n"] for x in up._buf][:1] == [150]
    finally:
        up.close(drain_seconds=0)


def test_a_spool_directory_has_one_sender(tmp_path: Path) -> None:
    """Two uplinks on one directory would post each other's batches to the wrong endpoint: the second is
    refused with the directory's name, in this process or another, until the first closes."""
    import subprocess
    import sys

    import pytest

    from containerguard.errors import UsageError

    url = f"http://127.0.0.1:{_closed_port()}/x"
    first = BatchUplink(url, "cg_token", tmp_path / "spool")
    try:
        with pytest.raises(UsageError, match=r"spool directory .*/spool is in use by another uplink"):
            BatchUplink(url + "y", "cg_token", tmp_path / "spool")
        other = subprocess.run([sys.executable, "-c", "import sys\nfrom containerguard.spool import BatchUplink\n"
                                f"BatchUplink({url!r}, 't', {str(tmp_path / 'spool')!r})"], capture_output=True, text=True)
        assert other.returncode != 0 and "is in use by another uplink" in other.stderr
        BatchUplink(url, "cg_token", tmp_path / "spool" / "policy").close(drain_seconds=0)  # a directory of its own
    finally:
        first.close(drain_seconds=0)
    BatchUplink(url, "cg_token", tmp_path / "spool").close(drain_seconds=0)  # free again once closed


def test_drops_carried_by_a_dropped_batch_are_reported_by_a_later_one(tmp_path: Path) -> None:
    """A long outage: batches that carried earlier drop counts are dropped themselves. The counts the server
    finally sees add up to every item that was lost, not just the last batch's."""
    up = BatchUplink(f"http://127.0.0.1:{_closed_port()}/x", "cg_token", tmp_path, items_key="decisions",
                     batch_size=20, flush_interval=3600, max_bytes=12_000)
    try:
        up._stop_flush.set()  # flushes only when the test says (no batch in flight while it counts)
        up._full.set()
        up._flusher.join(5)
        for round_ in range(30):
            for i in range(20):
                up.emit({"n": round_ * 20 + i, "pad": "x" * 100})
            up.flush()
        batches = [json.loads(f.read_bytes()) for f in sorted(tmp_path.glob("*.json"))]
        kept = sum(len(b["decisions"]) for b in batches)
        assert kept + up.dropped == 600 and up.dropped > 100
        # what the spooled batches report, plus what waits for the next batch, is every item lost
        assert sum(b["dropped"] for b in batches) + up._unreported_drops == up.dropped
    finally:
        up.close(drain_seconds=0)
