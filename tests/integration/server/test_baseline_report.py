"""Behavioural baselines on the central server (issue 14): agents report their host's baselines (workload,
mode, entry counts, last change) in their batches; ``GET /api/v1/baselines`` lists them; an agent token writes
only its own host's; a snapshot replaces the last (a workload deleted on the agent disappears); bad bodies are
refused whole. End to end: a real agent (``agent --baseline --server``) reports the baselines of its store, and
a ``baseline mode`` change on the host reaches the server within seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

from containerguard.runtime.baseline import BaselineStore, Profile


def _baseline(workload: str, mode: str = "learn", **kw: Any) -> dict[str, Any]:
    return {"workload": workload, "image": "shop/web:1", "image_id": "sha256:" + "a" * 64, "name_pattern": "web-*",
            "mode": mode, "locked": False, "entries": {"process": 3, "file": 2, "network": 1, "syscall": 5},
            "deviations": 0, "last_change": "2026-12-01T10:00:00Z", **kw}


def _report(api: Any, tok: str, host: str, baselines: Any) -> Any:
    return api.post("/agent/report", tok, json={"host": host, "batch_id": uuid.uuid4().hex, "baselines": baselines})


def test_reported_baselines_are_listed_and_replaced(api: Any) -> None:
    tok = api.token("agent", "node-1")
    other = api.token("agent", "node-2")
    r = _report(api, tok, "node-1", [_baseline("sha256:aaa/web-*"), _baseline("k8s:shop/Deployment/api/app", "monitor")])
    assert r.status_code == 200, r.text
    assert _report(api, other, "node-2", [_baseline("sha256:bbb/db", "protect")]).status_code == 200
    rows = api.get("/baselines?host=node-1").json()
    assert [(b["workload"], b["mode"]) for b in rows] == [("k8s:shop/Deployment/api/app", "monitor"),
                                                          ("sha256:aaa/web-*", "learn")]
    assert rows[1]["entries"] == {"process": 3, "file": 2, "network": 1, "syscall": 5}
    assert rows[1]["last_change"].startswith("2026-12-01T10:00:00") and rows[1]["host"] == "node-1"
    assert [b["host"] for b in api.get("/baselines?mode=protect").json()] == ["node-2"]
    # the next snapshot replaces the last: web promoted, the Deployment's baseline deleted on the agent
    assert _report(api, tok, "node-1", [_baseline("sha256:aaa/web-*", "monitor", deviations=2)]).status_code == 200
    rows = api.get("/baselines?host=node-1").json()
    assert [(b["workload"], b["mode"], b["deviations"]) for b in rows] == [("sha256:aaa/web-*", "monitor", 2)]
    # a batch without baselines (alerts only) leaves them as they are
    assert _report(api, tok, "node-1", None).status_code == 200
    assert len(api.get("/baselines?host=node-1").json()) == 1
    # an agent token writes only its own host's, and reads nothing
    assert _report(api, other, "node-1", []).status_code == 403
    assert api.get("/baselines", tok).status_code == 403
    assert len(api.get("/baselines?host=node-1").json()) == 1


def test_bad_baseline_reports_are_refused_whole(api: Any) -> None:
    tok = api.token("agent", "node-1")
    assert _report(api, tok, "node-1", [_baseline("w1")]).status_code == 200
    for bad in ([_baseline("w2", "sleepy")], [_baseline("w2", entries={"process": -1})],
                [_baseline("w2", entries={"secrets": 1})], [_baseline("")], [_baseline("w2"), _baseline("w2")],
                [_baseline("x" * 600)]):
        r = _report(api, tok, "node-1", bad)
        assert r.status_code == 422, (bad, r.text)
    assert [b["workload"] for b in api.get("/baselines").json()] == ["w1"]


def test_real_agent_reports_its_baselines_and_their_mode_changes(tmp_path: Path) -> None:
    bdir = tmp_path / "baselines"
    store = BaselineStore(bdir)  # what the agent learned before (its store survives restarts)
    store.save(Profile(key="sha256:1111/shop-web-*", image="shop/web:1", image_id="sha256:1111",
                       name_pattern="shop-web-*", mode="monitor", last_change_ns=1_764_583_200 * 10**9,
                       entries={"process": {"/usr/bin/date|root|/usr/bin/python3|+%s"}, "file": {"/var/log/app"},
                                "network": {"listen 8000"}, "syscall": {"execve", "openat", "bind"}}))
    store.close()
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=reg.free_port())
    agent = None
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        h = {"Authorization": f"Bearer {admin}"}
        host = socket.gethostname()
        tok = httpx.post(f"{s.url}/api/v1/tokens", headers=h,
                         json={"name": "node-b", "role": "agent", "host": host}).json()["token"]
        agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                                  "--baseline-dir", str(bdir), "--output", f"file:{tmp_path / 'alerts.jsonl'}",
                                  "--server", s.url, "--token", tok, "--spool-dir", str(tmp_path / "spool")],
                                 cwd=srv.ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                 stderr=open(tmp_path / "agent.log", "wb"), start_new_session=True)  # noqa: SIM115

        def listed() -> list[dict[str, Any]]:
            return list(httpx.get(f"{s.url}/api/v1/baselines?host={host}", headers=h, timeout=5).json())

        rows = srv.wait_for(listed, 60)
        assert [(b["workload"], b["mode"]) for b in rows] == [("sha256:1111/shop-web-*", "monitor")], \
            (tmp_path / "agent.log").read_text()[-2000:]
        assert rows[0]["entries"] == {"process": 1, "file": 1, "network": 1, "syscall": 3}
        assert rows[0]["last_change"].startswith("2025-12-01T10:00:00")
        res = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "baseline", "mode", "shop-web-*",
                              "protect", "--baseline-dir", str(bdir)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr
        t0 = time.monotonic()
        assert srv.wait_for(lambda: [b for b in listed() if b["mode"] == "protect"], 30), listed()
        assert time.monotonic() - t0 < 30
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        s.stop()
