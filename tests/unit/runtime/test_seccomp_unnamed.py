"""A syscall the profile cannot name (libseccomp and the kernel headers do not know its number) is not allowed
by the profile `profile seccomp` writes, and the command says so instead of leaving it out silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.profile import _write
from containerguard.runtime.baseline.seccomp import named


def test_unnamed_syscalls_are_named_in_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = named([{0: 5, 1: 3, 9999: 2, 9998: 1}])  # read, write, and two numbers no table names
    assert {"read", "write", "syscall_9999", "syscall_9998"} <= set(seen)
    out = tmp_path / "profile.json"
    _write(out, seen, "web", False, None, {}, None)
    profile = json.loads(out.read_text())
    names = profile["syscalls"][0]["names"]
    assert "read" in names and "write" in names and not [n for n in names if n.startswith("syscall_")]
    err = capsys.readouterr().err
    assert "warning: 2 observed syscall(s) have no name on this machine" in err and "9998, 9999" in err


def test_no_warning_when_every_syscall_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "p.json", named([{0: 1, 1: 1}]), "web", False, None, {}, None)
    assert "warning:" not in capsys.readouterr().err
