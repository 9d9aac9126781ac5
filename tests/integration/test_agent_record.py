"""`containerguard agent --record FILE` writes the documented event format; `rules replay` gives the same alert."""

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

from containerguard.cli.main import main
from containerguard.runtime.events import read_events

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]


def test_record_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    image = env.debian_image()
    rec, alerts, log = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl", tmp_path / "agent.log"
    agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only",
                              "--record", str(rec), "--output", f"file:{alerts}"],
                             stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    cid = ""
    try:
        deadline = time.monotonic() + 120
        while "agent running" not in log.read_text(errors="replace"):
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        cid = subprocess.run(["docker", "run", "-d", "--rm", image, "sleep", "60"], check=True, capture_output=True,
                             text=True).stdout.strip()
        subprocess.run(["docker", "exec", cid, "cat", "/etc/shadow"], check=True, capture_output=True)
        deadline = time.monotonic() + 10
        while "Sensitive file read" not in (alerts.read_text() if alerts.exists() else ""):
            assert time.monotonic() < deadline, "no live alert"
            time.sleep(0.1)
    finally:
        if cid:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        os.kill(agent.pid, signal.SIGTERM)
        agent.wait(30)
    events = list(read_events(rec))
    # --containers-only: the kernel dropped host events (the docker CLI this test ran on the host is absent;
    # other containers on this shared host may appear); the start is recorded as a `container` event
    assert events and not [e for e in events if e.fields.get("proc.name") == "docker"]
    assert any(e.fields.get("container.id") == cid[:12] for e in events)
    assert any(e.type == "container" for e in events)
    shadow = [e for e in events if e.type == "openat" and e.fields.get("fd.name") == "/etc/shadow"]
    assert shadow and shadow[0].fields["proc.name"] == "cat" and shadow[0].fields["container.image"] == image
    init = [e for e in events if e.type == "execve" and e.fields.get("container.id") == cid[:12]
            and e.fields.get("proc.name") == "sleep"]
    assert init and init[0].fields["proc.vpid"] == 1  # the container's pid 1, seen from inside
    # cat may be gone before the agent reads its NSpid: then proc.vpid is absent (not supplied), never wrong
    assert (shadow[0].fields.get("proc.vpid") or 2) > 1  # None: not supplied (<NA>), as the catalog now fills it
    capsys.readouterr()
    assert main(["rules", "replay", "--events", str(rec)]) == 0
    replayed = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    live = [json.loads(x) for x in alerts.read_text().splitlines()]
    key = {(d["rule"], d["output_fields"].get("fd.name")) for d in live if d["rule"].startswith("Sensitive")}
    assert key <= {(d["rule"], d["output_fields"].get("fd.name")) for d in replayed}


#: a made-up AWS secret key (shaped like a real one, not the documentation example the secret rules allow)
_SECRET = "Zq3x8Jk2LmN0pQrStUvWxYz1234567890AbCdEfGh"
_ENV_RULE = f"""
- rule: AWS secret key in a container process environment
  desc: a process in a container runs with an AWS secret key in its environment
  condition: evt.type in (execve, execveat) and container.id != host and proc.env[AWS_SECRET_ACCESS_KEY] = "{_SECRET}"
  output: AWS key in the environment (proc=%proc.name container=%container.id)
  priority: WARNING
"""


def _run_agent(tmp_path: Path, rules: Path, rec: Path, alerts: Path, *extra: str) -> subprocess.Popen[bytes]:
    log = tmp_path / "agent.log"
    agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only",
                              "--rules", str(rules), "--record", str(rec), "--output", f"file:{alerts}", *extra],
                             stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    deadline = time.monotonic() + 120
    while "agent running" not in log.read_text(errors="replace"):
        if agent.poll() is not None or time.monotonic() > deadline:
            os.killpg(agent.pid, signal.SIGKILL)
            raise AssertionError(log.read_text()[-3000:])
        time.sleep(0.2)
    return agent


def test_recording_masks_secret_environment_values_while_the_env_rule_fires_live(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    image = env.debian_image()
    rules = tmp_path / "env.yaml"
    rules.write_text(_ENV_RULE)
    for record_env in (False, True):
        rec, alerts = tmp_path / f"events-{record_env}.jsonl", tmp_path / f"alerts-{record_env}.jsonl"
        agent = _run_agent(tmp_path, rules, rec, alerts, *(["--record-env"] if record_env else []))
        cid = ""
        try:
            cid = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", "-e",
                                  f"AWS_SECRET_ACCESS_KEY={_SECRET}", "-e", "CG_PLAIN=visible-value", image,
                                  "sh", "-c", "sleep 0.5; ls / >/dev/null; sleep 60"],
                                 check=True, capture_output=True, text=True).stdout.strip()
            deadline = time.monotonic() + 15
            while "AWS key in the environment" not in (alerts.read_text() if alerts.exists() else ""):
                assert time.monotonic() < deadline, "the rule on proc.env did not fire live"
                time.sleep(0.1)
        finally:
            if cid:
                subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(30)
        text = rec.read_text()
        envs = [e.fields["proc.env"] for e in read_events(rec)
                if e.fields.get("container.id") == cid[:12] and isinstance(e.fields.get("proc.env"), dict)
                and "AWS_SECRET_ACCESS_KEY" in e.fields["proc.env"]]
        assert envs, "no exec of the container was recorded with its environment"
        if record_env:  # asked for: the recording keeps the environment as it was
            assert _SECRET in text and any(e["AWS_SECRET_ACCESS_KEY"] == _SECRET for e in envs)
        else:
            assert _SECRET not in text and _SECRET[:12] not in text
            assert all(e["AWS_SECRET_ACCESS_KEY"] == "Zq3x****" for e in envs)
            assert any(e.get("CG_PLAIN") == "visible-value" for e in envs)  # ordinary variables stay readable
