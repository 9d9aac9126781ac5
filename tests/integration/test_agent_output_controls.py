"""The agent's alert lines on stdout (and in files, syslog and webhooks: one renderer) carry names that whoever
runs in a container chose. JSON escapes C0 controls itself, but not the C1 controls (U+009B is CSI to a terminal),
bidi overrides and isolates, or U+2028/U+2029: those must reach no terminal or viewer raw, and the JSON must still
decode to the exact name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fixtures import env
from tests.integration.test_agent import Container, _need_root_tools

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

NAMES = ["\u009b2J\u009b31m", "evil\u202etxt.sh", "a\u2066b\u2069\u200f", "line\u2028break\u2029", "del\x7f\x1b[2J\x07"]


def test_alert_lines_carry_no_raw_display_controls(tmp_path: Path) -> None:
    _need_root_tools()
    env.ensure_dockerd()
    from containerguard.runtime.rules import default_rules_path

    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only",
                             "--rules", str(default_rules_path()), "--output", "stdout"],
                            stdout=subprocess.PIPE, stderr=(tmp_path / "agent.log").open("wb"))
    c = None
    try:
        deadline = time.monotonic() + 120
        while "agent running" not in (tmp_path / "agent.log").read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.2)
        c = Container(env.debian_image(), "--network", "none")
        for name in NAMES:
            c.exec("sh", "-c", 'mkdir -p "/tmp/$1" && cat "/tmp/$1/../../etc/shadow" > /dev/null', "sh", name)
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        if c is not None:
            c.remove()
    text = out.decode("utf-8")
    bad = [ch for ch in "\x1b\x07\x7f\u009b\u202e\u2066\u2069\u200f\u2028\u2029" if ch in text]
    assert not bad, bad
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    raws = {d["output_fields"].get("fd.nameraw") for d in docs if d["rule"] == "Monitored file read through a path traversal"}
    assert raws >= {f"/tmp/{n}/../../etc/shadow" for n in NAMES}, raws
