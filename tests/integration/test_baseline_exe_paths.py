"""One program, one baseline entry, across an agent restart (issue 14), with the real agent (eBPF sensor) and Docker.

A container's shell (``/bin/sh``, a link to ``/usr/bin/dash``) runs ``date`` three ways: by the usrmerge path
``/bin/date``, through ``PATH`` (``/usr/bin/date``) and by a relative path from ``/usr/bin`` (``./date``), several
times a second, so most runs are gone before the agent could read ``/proc``; ``docker exec`` runs a command whose
parent is the container runtime (runc or its shim, depending on timing). Learned, promoted to monitor, then the
agent is restarted: the restarted agent finds the shell in ``/proc`` (its resolved path, where the first agent saw
it started as ``/bin/sh``) and must report nothing for the same behaviour, while a really new process still gives
its one deviation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests.fixtures import env
from tests.integration.test_baseline import Agent, _baselines, _cli, _docker, _wait

from containerguard.runtime.baseline import name_pattern

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

LOOP = ("cd /usr/bin; while :; do /bin/date >/dev/null; date >/dev/null; ./date >/dev/null; "
        "/usr/local/bin/cgjob.sh; cgjob.sh; sleep 0.2; done")
IMAGE = "cg-test/baseline-script:1"


def _image() -> str:
    """The Debian test image with a shell script of its own (a script's executable is its interpreter)."""
    env.ensure_dockerd()
    base = env.debian_image()
    with env.machine_lock("baseline-script-image"):
        if not env.image_exists(IMAGE):
            ctx = env.CACHE / "baseline-script-ctx"
            ctx.mkdir(parents=True, exist_ok=True)
            (ctx / "cgjob.sh").write_text("#!/bin/sh\nexit 0\n")
            (ctx / "cgjob.sh").chmod(0o755)
            (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY cgjob.sh /usr/local/bin/cgjob.sh\n")
            subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(ctx)], check=True, capture_output=True,
                           env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return IMAGE


@pytest.fixture(scope="module", autouse=True)
def _root() -> None:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")


def test_same_program_same_entry_across_paths_and_restart(tmp_path: Path) -> None:
    image = _image()
    bdir = tmp_path / "baselines"
    name = f"cgbx-loop-{os.getpid()}"
    agent = Agent(tmp_path, bdir)
    try:
        _docker("run", "-d", "--name", name, image, "/bin/sh", "-c", LOOP)
        for _ in range(3):  # learned: a docker exec'd process (its parent is the runtime)
            assert _docker("exec", name, "/bin/true").returncode == 0
            time.sleep(0.3)
        pattern = name_pattern(name)
        _wait(lambda: any(b["name_pattern"] == pattern and b["mode"] == "monitor" for b in _baselines(bdir)), 60,
              "automatic promotion to monitor")
        (mine,) = [b for b in _baselines(bdir) if b["name_pattern"] == pattern]
        shown = _cli("baseline", "show", mine["workload"], "--format", "json", "--baseline-dir", str(bdir))
        assert shown.returncode == 0, shown.stderr
        processes = json.loads(shown.stdout)["process"]
        dates = [p for p in processes if "date" in p.split("|")[0]]
        # three spellings of one program under one parent: one entry, by the resolved paths
        assert dates == ["/usr/bin/date|root|/usr/bin/dash|"], processes
        assert "/usr/bin/true|root|<runtime>|" in processes, processes
        # the script: its interpreter, with the script's path as the first argument (the kernel's argv)
        scripts = [p for p in processes if "cgjob" in p]
        assert scripts == ["/usr/bin/dash|root|/usr/bin/dash|/usr/local/bin/cgjob.sh"], processes
        assert agent.docs(name) == [], agent.docs(name)

        # restart mid-monitor: the shell is now read from /proc; the same behaviour is still known
        agent.stop()
        agent = Agent(tmp_path, bdir)
        for _ in range(3):
            assert _docker("exec", name, "/bin/true").returncode == 0
            time.sleep(0.5)
        time.sleep(3)  # some 30 more rounds of the loop
        assert agent.docs(name) == [], f"known behaviour alerted after the restart: {agent.docs(name)}"
        # and the restarted agent does watch: a new program is one deviation
        assert _docker("exec", name, "/usr/bin/uname").returncode == 0
        _wait(lambda: len(agent.docs(name)) >= 1, 10, "the deviation of a new process")
        time.sleep(1)
        docs = agent.docs(name)
        assert [d["output_fields"]["baseline.entry"] for d in docs] == ["/usr/bin/uname|root|<runtime>|"], docs
    finally:
        agent.stop()
        _docker("rm", "-f", name, check=False)
