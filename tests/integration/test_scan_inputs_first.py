"""`scan` reads and validates its inputs before any long work: a bad ignore file, VEX document, policy
directory or containerguard.yaml is a one-line error naming the file (and line), exit 2, and the registry
is never contacted. The registry here is a listening socket that counts connections."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "containerguard.cli.main"]


@pytest.fixture
def registry() -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield f"registry:127.0.0.1:{sock.getsockname()[1]}/shop/web:1", sock
    finally:
        sock.close()


def _connections(sock: socket.socket) -> int:
    n = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


@pytest.mark.parametrize(("name", "files", "args", "error"), [
    ("ignore file", {"ignore.yaml": "ignores:\n  - id: CVE-2024-1\n    expires: 2024-02-30\n"},
     ["--ignorefile", "ignore.yaml"], r"^error: ignore.yaml:3: invalid value '2024-02-30'"),
    ("ignore file schema", {"ignore.yaml": "ignores:\n  - id: CVE-2024-1\n    colour: red\n"},
     ["--ignorefile", "ignore.yaml"], r"^error: ignore.yaml:\d+: "),
    ("vex", {"vex.json": '{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": 5}]}'},
     ["--vex", "vex.json"], r"^error: vex.json: statements.0.vulnerability"),
    ("policy dir", {"pol/p.yaml": "policies:\n  - id: x\n    bogus: 1\n"},
     ["--policy", "pol"], r"^error: pol/p.yaml:2: "),
    ("config file", {"containerguard.yaml": "scan:\n  severity: [HIGH\n"}, [],
     r"^error: containerguard.yaml:3: invalid YAML"),
])
def test_bad_input_fails_before_the_registry_is_contacted(name: str, files: dict[str, str], args: list[str],
                                                          error: str, registry: tuple[str, socket.socket],
                                                          tmp_path: Path) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    target, sock = registry
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERGUARD_")}
    out = subprocess.run([*CLI, "scan", target, "--insecure", "--scanners", "secret", *args], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 2, (name, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(error, lines[0]), (name, out.stderr)
    assert _connections(sock) == 0, f"{name}: the registry was contacted before the input was checked"


def test_good_inputs_then_reach_the_registry(registry: tuple[str, socket.socket], tmp_path: Path) -> None:
    """The control: with valid inputs the same command does contact the registry (and fails there)."""
    (tmp_path / "ignore.yaml").write_text("ignores:\n  - id: CVE-2024-1\n")
    target, sock = registry
    proc = subprocess.Popen([*CLI, "scan", target, "--insecure", "--scanners", "secret", "--ignorefile",
                             "ignore.yaml", "--timeout", "5"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None and not seen:
            seen = _connections(sock)
            time.sleep(0.05)
        seen += _connections(sock)
    finally:
        proc.kill()
        proc.communicate()
    assert seen >= 1
