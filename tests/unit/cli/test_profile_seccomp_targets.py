"""`containerguard profile seccomp` with targets that are no container nor image (issue 14 review): one line, exit 2,
before any trace, and nothing reaches the Engine's URL paths (``../x`` would address another endpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli import profile
from containerguard.cli.main import main


@pytest.mark.parametrize("target", ["", "a b", "../etc", "a/../../containers/json", "x:y:z", "web\x1b[2J",
                                    "-", "a" * 600, "img\u202e", "name?all=1"])
def test_a_target_that_is_no_name_nor_reference_is_refused(target: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.json"
    assert main(["profile", "seccomp", "--duration", "1", "-o", str(out), "--", target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "not a container name or id, nor an image reference" in err
    assert not any(c in err for c in "\x1b\u202e")
    assert not out.exists()


def test_names_and_references_pass_the_check() -> None:
    for ok in ("web", "web-1", "3f2a9c0e1b7d", "sha256:3f2a9c0e", "debian:12", "localhost:5000/team/app:1.2",
               "registry.example.com/a/b@sha256:" + "0" * 64, "cg-test/pyhttp:1"):
        profile._check_target(ok)


def test_progress_lines_show_container_output_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    profile._say("verify: exited with code 1 under the profile (expected 0): \x1b]0;owned\x07\x1b[2Jgone\r\nfake")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err and "\r" not in err
