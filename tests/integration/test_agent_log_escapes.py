"""The agent's own log lines (issue 14 review): they name what whoever starts a container or writes a rules file
chose (container names and labels, workloads, executables, file paths); control characters and bidi overrides in
them are shown escaped, never passed to the terminal or log that reads the agent's stderr."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from containerguard.runtime.rules import default_rules_path


def test_agent_log_lines_escape_terminal_control_sequences(tmp_path: Path) -> None:
    hostile = tmp_path / "rules\x1b[2J\x1b]0;owned\x07\u202e"
    hostile.mkdir()
    rules = hostile / "r.yaml"
    shutil.copy(default_rules_path(), rules)  # its rules the sensor cannot feed are logged, with the file's path
    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only",
                             "--rules", str(rules), "--output", f"file:{tmp_path / 'alerts.jsonl'}",
                             "--baseline-dir", str(tmp_path / "baselines")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="surrogateescape")
    try:
        time.sleep(4)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if "r.yaml" in line]
    assert lines, err[-2000:]
    assert all("rules\\x1b[2J\\x1b]0;owned\\x07\\u202e" in line for line in lines), lines[:3]
    assert not any(c in err for c in "\x1b\x07\u202e"), err[-2000:]
