"""Zero-drift from the scanned image layers (issue 14), with the real agent (eBPF sensor), Docker and the
scanner's read of the image: an executable is the image's only if the layers hold it with that size and mode.

Changes are made in the container before the agent starts, so the agent cannot have seen them being written:
only the layers can tell. A binary replaced in place (/usr/bin/tac overwritten with another program) and one made
setuid are flagged; the image's own binaries are not, even one copied up to the upper layer by ``touch`` and
``chmod`` (which the upper-layer check alone would flag)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fixtures.registry import free_port
from tests.integration.test_baseline import _docker, _wait, python_image

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _root() -> None:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")


def test_binary_replaced_in_place_is_drift_the_images_own_are_not(tmp_path: Path) -> None:
    image = python_image()
    name = f"cgbd-{os.getpid()}"
    alerts = tmp_path / "alerts.jsonl"
    log = tmp_path / "agent.log"
    port = free_port()
    agent = None
    try:
        _docker("run", "-d", "--name", name, image)
        image_id = _docker("inspect", "-f", "{{.Image}}", name).stdout.strip()
        for cmd in ("cp /usr/bin/sleep /usr/bin/tac",  # replaced in place: another program, another size
                    "chmod 4755 /usr/bin/true",  # made setuid
                    "touch /usr/bin/date && chmod 755 /usr/bin/date",  # copied up, content and mode unchanged
                    # links made since the start: to the image's own ls (runs the image's file: no drift), to a
                    # file written since (drift, judged on the file, named by the link's path)
                    "ln -s /usr/bin/ls /tmp/lslink",
                    "cp /usr/bin/sleep /tmp/dropped && ln -s /tmp/dropped /tmp/droplink"):
            assert _docker("exec", name, "sh", "-c", cmd).returncode == 0
        upper = _docker("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", name).stdout.strip()
        assert Path(upper, "usr/bin/date").is_file()  # in the upper layer, yet the image's
        agent = subprocess.Popen(
            [sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only", "--output",
             f"file:{alerts}", "--baseline-dir", str(tmp_path / "bl"), "--baseline-quiet", "3600",
             "--health-port", str(port)], stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)

        def health() -> dict[str, Any]:
            try:
                return dict(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3).json())
            except (httpx.HTTPError, ValueError):
                return {}

        # the container's periodic job execs: the agent reads the image's layers once, in the background
        _wait(lambda: image_id in ((health().get("image_layers") or {}).get("ready") or []), 120,
              f"the agent to read the layers of {image_id}: {log.read_text(errors='replace')[-2000:]}")
        for exe, args in (("/usr/bin/date", ()), ("/usr/bin/ls", ("/",)), ("/usr/bin/tac", ("0.1",)),
                          ("/usr/bin/true", ()), ("/tmp/lslink", ("/",)), ("/tmp/droplink", ("0.1",))):
            assert _docker("exec", name, exe, *args).returncode == 0, exe

        def drift() -> dict[str, dict[str, Any]]:
            docs = [json.loads(x) for x in alerts.read_text().splitlines()] if alerts.exists() else []
            return {d["output_fields"]["proc.exepath"]: d for d in docs
                    if d.get("rule_id") == "CG-B005" and d.get("container_name") == name}

        _wait(lambda: {"/usr/bin/tac", "/usr/bin/true", "/tmp/droplink"} <= drift().keys(), 60,
              "the three drift alerts")
        time.sleep(2)
        found = drift()
        # date, ls and the link to ls: the image's
        assert found.keys() == {"/usr/bin/tac", "/usr/bin/true", "/tmp/droplink"}, found.keys()
        assert "not in the image layers" in found["/tmp/droplink"]["output"]
        assert "replaced after the container started" in found["/usr/bin/tac"]["output"]
        assert "mode changed after the container started (4755" in found["/usr/bin/true"]["output"]
        assert found["/usr/bin/tac"]["output_fields"]["proc.exe_written"] is False  # only the layers could tell
        # the default drift rule takes the layers' verdict too: the touched /usr/bin/date is in the upper layer,
        # yet the image's
        docs = [json.loads(x) for x in alerts.read_text().splitlines()]
        rule = {d["output_fields"]["proc.exepath"] for d in docs
                if d.get("rule_id") == "CG-R005" and d.get("container_name") == name}
        assert rule == {"/usr/bin/tac", "/usr/bin/true", "/tmp/droplink"}, rule
    finally:
        if agent is not None and agent.poll() is None:
            os.kill(agent.pid, signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        _docker("rm", "-f", name, check=False)
