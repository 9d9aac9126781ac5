"""fd.sip.name through the real agent: the upstream rules that read it (stable's "Contact K8S API Server From
Container", sandbox's miner-pool rule, switched on by an override) fire on connections to the addresses their domain
names resolve to, and not on the same connections from a container where the names do not resolve there.

No DNS query leaves the host: the agent runs with ``--resolve-names hosts`` and the names resolve through the
container's own host entries (``docker run --add-host``). Containers have no network: the API-server connection goes
to the container's own loopback (refused), the miner-pool one to a documentation address (TEST-NET-2) that fails with
ENETUNREACH before any packet is sent. Both are still connect() calls the rules see, as in Falco.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fixtures import env

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

K8S_RULE = "Contact K8S API Server From Container"
MINER_RULE = "Detect outbound connections to common miner pool ports"
ENABLE_MINER = f"""
- rule: {MINER_RULE}
  enabled: true
  override:
    enabled: replace
"""
#: bash's /dev/tcp resolves the name through the container's /etc/hosts, then connects
SCRIPT = """
(exec 3<>/dev/tcp/kubernetes.default.svc.cluster.local/443) 2>/dev/null
(exec 3<>/dev/tcp/pool.minexmr.com/443) 2>/dev/null
(exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null
(exec 3<>/dev/tcp/198.51.100.7/443) 2>/dev/null
true
"""


def _alerts(path: Path, cid: str) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [d for line in path.read_text().splitlines() if line.strip()
            for d in [json.loads(line)] if d.get("container_id") == cid[:12]]


def test_upstream_domain_name_rules_fire_on_the_resolved_addresses_only(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    image = env.debian_image()
    base = env.SHARED / "falco-rules"
    enable = tmp_path / "enable.yaml"
    enable.write_text(ENABLE_MINER)
    alerts, log = tmp_path / "alerts.jsonl", tmp_path / "agent.log"
    cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only", "--resolve-names", "hosts",
           "--output", f"file:{alerts}", "--rules", str(base / "falco_rules.yaml"),
           "--rules", str(base / "falco-sandbox_rules.yaml"), "--rules", str(enable)]
    agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    cids: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while "agent running" not in log.read_text(errors="replace"):
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        runs = {}
        for named in (True, False):
            hosts = ["--add-host", "kubernetes.default.svc.cluster.local:127.0.0.1",
                     "--add-host", "pool.minexmr.com:198.51.100.7"] if named else []
            cid = subprocess.run(["docker", "run", "-d", "--network", "none", *hosts, image, "sleep", "120"],
                                 check=True, capture_output=True, text=True).stdout.strip()
            cids.append(cid)
            subprocess.run(["docker", "exec", cid, "bash", "-c", SCRIPT], check=True, capture_output=True, timeout=60)
            runs[named] = cid
        wanted = {K8S_RULE, MINER_RULE}
        deadline = time.monotonic() + 15
        while not wanted <= {d["rule"] for d in _alerts(alerts, runs[True])}:
            assert time.monotonic() < deadline, (_alerts(alerts, runs[True]), log.read_text()[-2000:])
            time.sleep(0.2)
        time.sleep(1.0)
        named_docs = _alerts(alerts, runs[True])
        plain_docs = _alerts(alerts, runs[False])
    finally:
        for cid in cids:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(30)
    miner = [d for d in named_docs if d["rule"] == MINER_RULE]
    assert miner and all(d["output_fields"]["fd.rip"] == "198.51.100.7" for d in miner)  # type: ignore[index]
    k8s = [d for d in named_docs if d["rule"] == K8S_RULE]
    # both connects go to the same addresses; only those the names resolve to match, whatever the syntax used
    assert all("127.0.0.1:443" in str(d["output"]) for d in k8s), k8s
    assert len(k8s) == 2 and len(miner) == 2
    # the container where these names do not resolve connected to the same addresses: nothing
    assert not [d for d in plain_docs if d["rule"] in wanted], plain_docs
