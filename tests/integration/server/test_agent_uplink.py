"""A real agent (`containerguard agent --server`) sends alerts while the server is stopped for 60 s (the
issue's outage) and restarted: every alert arrives exactly once.

Alerts come from the agent's Kubernetes audit webhook (no eBPF needed), so each one is a real rule match.
This is the suite's one long test (about 70-100 s: the outage, then up to the sender's 30 s backoff before
its next attempt); everything it checks is done while the outage runs, so nothing else waits on it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

OUTAGE_SECONDS = 60


def _event(i: int) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"evil-{i}", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": f"a-{i}",
            "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods", "verb": "create",
            "user": {"username": "mallory", "groups": ["system:authenticated"]},
            "objectRef": {"resource": "pods", "namespace": "default", "name": f"evil-{i}", "apiVersion": "v1"},
            "responseStatus": {"code": 201}, "requestObject": pod,
            "requestReceivedTimestamp": "2026-11-27T10:00:00.000000Z",
            "stageTimestamp": "2026-11-27T10:00:00.100000Z", "annotations": {"authorization.k8s.io/decision": "allow"}}


def _send(audit_port: int, start: int, n: int) -> None:
    r = httpx.post(f"http://127.0.0.1:{audit_port}/k8s-audit", json=[_event(i) for i in range(start, start + n)],
                   timeout=10)
    assert r.json() == {"events": n}


def test_alerts_survive_a_server_outage_once_each(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    port = reg.free_port()
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=port)
    admin = s.first_line().rsplit(" ", 1)[1].strip()
    h = {"Authorization": f"Bearer {admin}"}
    tok = httpx.post(f"{s.url}/api/v1/tokens", headers=h, json={"name": "node-a", "role": "agent", "host": socket.gethostname()}).json()["token"]
    audit = reg.free_port()
    local = tmp_path / "alerts.jsonl"
    agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                              "--k8s-audit-listen", f"127.0.0.1:{audit}", "--output", f"file:{local}",
                              "--server", s.url, "--token", tok, "--spool-dir", str(tmp_path / "spool")],
                             cwd=srv.ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / "agent.log", "wb"), start_new_session=True)  # noqa: SIM115
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{audit}/k8s-audit", json=[], timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        _send(audit, 0, 20)
        time.sleep(2)
        s.stop()  # the outage
        down = time.monotonic()
        for burst in range(3):  # alerts keep coming all through the outage: 20 at 0 s, 20 s and 40 s
            _send(audit, 20 + burst * 20, 20)
            time.sleep(OUTAGE_SECONDS / 3)
            assert any((tmp_path / "spool").glob("*.json")), "nothing spooled during the outage"
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
        s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=port)
        _send(audit, 80, 20)
        want = 100
        got: list[dict] = []
        deadline = time.time() + 60
        while time.time() < deadline:
            got = httpx.get(f"{s.url}/api/v1/alerts?limit=1000&host={socket.gethostname()}", headers=h).json()
            if len(got) >= want:
                break
            time.sleep(0.5)
        time.sleep(2)  # anything late would be a duplicate
        got = httpx.get(f"{s.url}/api/v1/alerts?limit=1000&host={socket.gethostname()}", headers=h).json()
        local_docs = [json.loads(line) for line in local.read_text().splitlines()]
        privileged = [d for d in local_docs if d["rule"] == "Privileged pod created"]
        assert len(privileged) == want  # every audit event became an alert on the agent
        # the server holds exactly what the agent emitted: each alert once
        assert len(got) == len(local_docs), f"{len(got)} alerts on the server, {len(local_docs)} emitted"
        assert len({a["uid"] for a in got}) == len(got)
        assert sorted((a["rule"], a["output"]) for a in got) == sorted((d["rule"], d["output"]) for d in local_docs)
        assert not list((tmp_path / "spool").glob("*.json"))
        assert not list((tmp_path / "spool" / "rejected").iterdir())
        hosts = httpx.get(f"{s.url}/api/v1/hosts", headers=h).json()
        assert [x["name"] for x in hosts] == [socket.gethostname()]
    finally:
        agent.terminate()
        agent.wait(30)
        s.stop()
