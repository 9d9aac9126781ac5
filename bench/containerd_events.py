"""How soon the agent's container table knows a container containerd starts, with its metadata (name, image digest,
privileged, pod): the time from containerd's /tasks/start event to the table's "start" notice, over short-lived
containers (`ctr run --rm IMAGE ID true`) on a private containerd (tests/fixtures/containerd.py).

The previous table polled the task list every 2 s: a container living less than that was never seen, and one that
lived longer was noticed 1 s late on average. Target: every container seen, p99 notice latency <= 200 ms (the
sensor's syscall-to-alert target).

    .venv/bin/python bench/containerd_events.py [--containers 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from tests.fixtures import env
from tests.fixtures.containerd import IMAGE, Containerd, cid

from containerguard.runtime.containerd import ContainerdTable
from containerguard.runtime.containers import ContainerInfo


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=30)
    args = ap.parse_args()
    env.debian_image()
    seen: dict[str, tuple[int, ContainerInfo]] = {}
    done = threading.Condition()

    def on_change(action: str, info: ContainerInfo) -> None:
        if action == "start":
            with done:
                seen[info.id] = (time.time_ns(), info)
                done.notify_all()

    with env.machine_lock("containerd-root"), tempfile.TemporaryDirectory() as tmp:
        ctrd = Containerd(Path(tmp))
        try:
            ctrd.ensure_image()
            table = ContainerdTable(ctrd.sock, on_change=on_change)
            table.start()
            time.sleep(0.5)
            ids = [cid(f"bench-{i}") for i in range(args.containers)]
            for i, c in enumerate(ids):
                ctrd.run("run", "--rm", *(("--privileged",) if i % 2 else ()), "--label",
                         "io.kubernetes.pod.name=bench", IMAGE, c, "true")
            with done:
                done.wait_for(lambda: all(c in seen for c in ids), timeout=10)
            table.stop()
        finally:
            ctrd.stop()
    lat = sorted((seen[c][0] - seen[c][1].started_ns) / 1e6 for c in ids if c in seen)
    complete = [c for c in ids if c in seen and seen[c][1].image_digest and seen[c][1].labels.get(
        "io.kubernetes.pod.name") == "bench" and seen[c][1].privileged == (ids.index(c) % 2 == 1)]
    ok = target_line("containers seen (of started)", 100.0 * len(lat) / len(ids), 100, "%", at_least=True, fmt="7.1f")
    ok &= target_line("with full metadata", 100.0 * len(complete) / len(ids), 100, "%", at_least=True, fmt="7.1f")
    if lat:
        ok &= target_line("start-to-table p50", lat[len(lat) // 2], 200, "ms", fmt="7.1f")
        ok &= target_line("start-to-table p99", lat[min(len(lat) - 1, int(len(lat) * 0.99))], 200, "ms", fmt="7.1f",
                          note=f"max {lat[-1]:.1f} ms over {len(lat)} containers living ~10 ms each")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
