"""A string-list field (a container's command and args, capabilities, a Docker body's Cmd/Entrypoint/CapAdd) of
another shape is a request the API server or dockerd refuses: the policy input cannot be read, so it is never
evaluated as if the field were empty (a policy over it would pass); `policy eval` says so in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("containerguard"))


def _pod(**container: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "a:1", **container}]}}


@pytest.mark.parametrize(("doc", "field", "shape"), [
    (_pod(command=5), "command", "int"),
    (_pod(args={"a": 1}), "args", "dict"),
    (_pod(command=["sh", 5]), "command", "list holding another type"),
    (_pod(securityContext={"capabilities": {"add": [["SYS_ADMIN"]]}}), "capabilities.add", "list holding"),
    ({"Image": "a:1", "Cmd": 7, "HostConfig": {}}, "Cmd", "int"),
    ({"Image": "a:1", "HostConfig": {"CapAdd": {"x": "SYS_ADMIN"}}}, "CapAdd", "dict"),
])
def test_a_string_list_of_another_shape_cannot_be_evaluated(tmp_path: Path, doc: dict[str, object], field: str,
                                                           shape: str) -> None:
    f = tmp_path / "in.json"
    f.write_text(json.dumps(doc))
    r = subprocess.run([CLI, "policy", "eval", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{field}: expected a string or a list of strings, got {shape}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("doc", [
    _pod(command="sh"),  # a lone string (the API server refuses it) still counts
    _pod(command=None, args=["-c", "x"]),
    {"Image": "a:1", "Cmd": "sh", "HostConfig": {"CapAdd": "NET_ADMIN"}},
])
def test_strings_and_lists_of_strings_are_read(tmp_path: Path, doc: dict[str, object]) -> None:
    f = tmp_path / "in.json"
    f.write_text(json.dumps(doc))
    r = subprocess.run([CLI, "policy", "eval", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
