"""Host PID and IPC namespaces and a read-only root filesystem, end to end on both backends: real containers
started with ``--pid=host --ipc=host --read-only`` (and a plain one beside them), a real agent reporting its
Docker host to a real server process, and the API's container list and risk view showing each part."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import httpx
import pytest
from tests.fixtures import env
from tests.fixtures import server as srv

pytestmark = pytest.mark.docker


def _run(name: str, *flags: str) -> str:
    out = subprocess.run(["docker", "run", "-d", "--name", name, *flags, env.debian_image(), "sleep", "600"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_agent_reports_namespaces_and_read_only_root_and_risk_uses_them(backend, tmp_path):
    prefix = f"cg-sgns-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}-shared", f"{prefix}-ro", f"{prefix}-plain"]
    s = agent = None
    try:
        shared = _run(names[0], "--pid=host", "--ipc=host", "--read-only")
        ro = _run(names[1], "--read-only", "--cap-add", "SYS_PTRACE")
        plain = _run(names[2])
        s = srv.ServerProcess.server(tmp_path, "--db", backend, "--data-dir", str(tmp_path / "data"),
                                     env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        h = {"Authorization": f"Bearer {admin}"}
        host = socket.gethostname()
        tok = httpx.post(f"{s.url}/api/v1/tokens", headers=h,
                         json={"name": "ns-agent", "role": "agent", "host": host}).json()["token"]
        agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                                  "--server", s.url, "--token", tok, "--spool-dir", str(tmp_path / "spool"),
                                  "--output", f"file:{tmp_path / 'alerts.jsonl'}"],
                                 cwd=srv.ROOT, env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")},
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / "agent.log", "wb"),  # noqa: SIM115
                                 start_new_session=True)
        ours = {shared, ro, plain}

        def reported() -> dict[str, dict] | None:
            rows = httpx.get(f"{s.url}/api/v1/containers", params={"host": host, "limit": 1000}, headers=h).json()
            got = {c["container_id"]: c for c in rows if c["container_id"] in ours}
            return got if len(got) == 3 else None

        got = srv.wait_for(reported, 60)
        assert got, (tmp_path / "agent.log").read_text()[-2000:]
        assert (got[shared]["pid_mode"], got[shared]["ipc_mode"], got[shared]["read_only"]) == ("host", "host", True)
        assert got[ro]["read_only"] is True and got[ro]["pid_mode"] == "" and got[ro]["ipc_mode"] != "host"
        assert got[plain]["read_only"] is False and got[plain]["pid_mode"] == "" and got[plain]["ipc_mode"] != "host"
        # the agent sees its own host's view with the same facts
        me = httpx.get(f"{s.url}/api/v1/hosts/self", headers={"Authorization": f"Bearer {tok}"}).json()
        assert {c["container_id"]: c["pid_mode"] for c in me["containers"] if c["container_id"] in ours}[shared] == "host"
        # the risk view: every item shows its parts
        risk = httpx.get(f"{s.url}/api/v1/risk", params={"kind": "containers", "limit": 1000}, headers=h).json()
        by_id = {i["container"]["container_id"]: i for i in risk["items"] if i["container"]["container_id"] in ours}
        assert set(by_id) == ours, risk["items"][:3]
        parts = {cid: by_id[cid]["why"]["exposure"]["parts"] for cid in ours}
        assert parts[shared] == {"host_pid": 0.3, "host_ipc": 0.2, "read_only_root": -0.1}
        assert by_id[shared]["why"]["exposure"]["factor"] == pytest.approx(1.4)
        assert parts[ro] == {"dangerous_capabilities": 0.2, "read_only_root": -0.1}
        assert by_id[ro]["why"]["exposure"]["facts"]["capabilities"] == ["SYS_PTRACE"]
        assert parts[plain] == {} and by_id[plain]["why"]["exposure"]["factor"] == 1.0
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        if s is not None:
            s.stop()
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
