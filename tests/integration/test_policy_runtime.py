"""Runtime policies over alerts, wired to the agent's responses: a real agent (no eBPF sensor: the event is
handed to it as the sensor would) and a real container on the Docker Engine, killed because a runtime policy
says so -- not because the rule or --respond asked."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from containerguard.model import Event
from containerguard.policy import load_policies
from containerguard.policy.runtime import AlertPolicies
from containerguard.runtime.agent import Agent, AgentConfig

pytestmark = [pytest.mark.docker]

IMAGE = "cgpol/busybox:1"
RULES = """\
- rule: cgpol shell in container
  desc: a shell started in a container (test rule)
  condition: evt.type = execve and proc.name = sh and container.id != host
  output: shell in container (container=%container.name id=%container.id)
  priority: NOTICE
"""
POLICY = """\
id: PROD-SHELL
name: shell-in-production
description: A shell in a production container means someone is inside it.
severity: critical
condition: alert.rule.contains("shell") && alert.container_name.startsWith("cgpol-rt-prod")
enforcement: {runtime: kill}
"""


def _image() -> None:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("bin")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        tar.add("/bin/busybox", arcname="bin/busybox")
    subprocess.run(["docker", "import", "-", IMAGE], input=buf.getvalue(), check=True, capture_output=True)


def _container(name: str) -> str:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    return subprocess.run(["docker", "run", "-d", "--network", "none", "--name", name, IMAGE, "/bin/busybox", "sleep", "300"],
                          check=True, capture_output=True, text=True).stdout.strip()


def _running(cid: str) -> str:
    r = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", cid], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "gone"


def test_runtime_policy_kills_the_container_through_the_agent(tmp_path: Path) -> None:
    _image()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "prod.yaml").write_text(POLICY)
    out = tmp_path / "alerts.jsonl"
    names = {"prod": f"cgpol-rt-prod-{os.getpid()}", "dev": f"cgpol-rt-dev-{os.getpid()}"}
    ids = {k: _container(n) for k, n in names.items()}
    ag = Agent(AgentConfig(rules=[str(tmp_path / "rules.yaml")], outputs=[f"file:{out}"], sensor=False,
                           health_listen=None, alert_policies=AlertPolicies(load_policies([tmp_path / "pol"]))))
    ag.start()
    try:
        for key in ("dev", "prod"):
            ag.handle_event(Event(type="execve", time_ns=time.time_ns(), fields={
                "evt.type": "execve", "proc.name": "sh", "proc.pid": 0, "proc.cmdline": "sh -i",
                "container.id": ids[key][:12], "container.full_id": ids[key], "container.name": names[key]}))
        deadline = time.monotonic() + 15
        while _running(ids["prod"]) == "true" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _running(ids["prod"]) != "true", "the production container survived its runtime policy"
        assert _running(ids["dev"]) == "true", "the policy's condition does not cover the dev container"
        deadline = time.monotonic() + 10
        docs: list[dict] = []
        while len(docs) < 2 and time.monotonic() < deadline:
            docs = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            time.sleep(0.1)
        by_name = {d["output_fields"]["container.name"]: d for d in docs}
        assert by_name[names["prod"]]["responses"] == [f"kill_container {ids['prod'][:12]}: ok"]
        assert by_name[names["dev"]].get("responses", []) == []
    finally:
        ag.stop()
        for n in names.values():
            subprocess.run(["docker", "rm", "-f", n], capture_output=True)


def test_default_runtime_policies_only_mark_alerts() -> None:
    """Out of the box no runtime policy acts on a container: they alert until the user raises them."""
    from containerguard.model import Alert, Priority

    ap = AlertPolicies(load_policies())
    alert = Alert(rule="Terminal shell in container", rule_id="x", priority=Priority.CRITICAL, output="shell",
                  time_ns=0, container_id="abc", container_name="web")
    assert ap(alert) == []
    assert {v.policy_id for v in ap.decide(alert).violations} == {"CG-RUN-001", "CG-RUN-002"}


def test_runtime_policy_kill_is_reported_to_the_server(tmp_path: Path) -> None:
    """The same kill, with the agent's policies reporting to a real server process (an agent token bound to
    this host): the violation is stored with the response's outcome, and a policy_violation event is raised."""
    import socket

    import httpx
    from tests.fixtures import server as srv
    from tests.integration.server.test_cli import cg

    from containerguard.policy.reporting import DecisionReporter

    _image()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "prod.yaml").write_text(POLICY)
    name = f"cgpol-rt-prod-rep-{os.getpid()}"
    cid = _container(name)
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    host = socket.gethostname()
    reporter = None
    ag = None
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        token = cg("token", "create", "node-agent", "--role", "agent", "--host", host, "--server", s.url,
                   "--token", admin).stdout.strip()
        reporter = DecisionReporter(s.url, token, tmp_path / "spool", source="agent", instance=host)
        ag = Agent(AgentConfig(rules=[str(tmp_path / "rules.yaml")], outputs=[f"file:{tmp_path / 'a.jsonl'}"],
                               sensor=False, health_listen=None,
                               alert_policies=AlertPolicies(load_policies([tmp_path / "pol"]), reporter, host=host)))
        ag.start()
        ag.handle_event(Event(type="execve", time_ns=time.time_ns(), fields={
            "evt.type": "execve", "proc.name": "sh", "proc.pid": 0, "proc.cmdline": "sh -i",
            "container.id": cid[:12], "container.full_id": cid, "container.name": name}))
        h = {"Authorization": f"Bearer {admin}"}

        def stored() -> list[dict]:
            return httpx.get(f"{s.url}/api/v1/policy/violations", params={"source": "agent", "policy": "PROD-SHELL"},
                             headers=h).json()

        rows = srv.wait_for(stored, 30)
        assert len(rows) == 1, rows
        v = rows[0]
        assert (v["stage"], v["action"], v["allowed"], v["instance"], v["reporter"]) == \
            ("runtime", "kill_container", False, host, "node-agent")
        assert v["responses"] == [f"kill_container {cid[:12]}: ok"]
        assert v["object"]["container"] == cid[:12] and v["object"]["name"] == name
        assert _running(cid) != "true"
        events = httpx.get(f"{s.url}/api/v1/events", params={"type": "policy_violation"}, headers=h).json()
        assert any("PROD-SHELL" in e["summary"] and name in e["summary"] for e in events), events
    finally:
        if ag is not None:
            ag.stop()
        if reporter is not None:
            reporter.close()
        s.stop()
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
