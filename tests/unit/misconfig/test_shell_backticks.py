"""Backtick command substitution in RUN scripts (misconfig.shell), bare and inside double quotes: the
commands inside are found, the word keeps the raw text, an unclosed backtick runs to the end."""

from __future__ import annotations

from containerguard.misconfig.shell import parse


def _names(text: str) -> list[str]:
    return [c.name for c in parse(text).commands]


def test_backticks_bare_and_in_double_quotes() -> None:
    s = parse('echo `uname -r` "kernel `apt-get install -y curl` done" && ls')
    cmds = {c.name: c for c in s.commands}
    assert set(cmds) == {"echo", "uname", "apt-get", "ls"}
    assert cmds["echo"].args == ("`uname -r`", "kernel `apt-get install -y curl` done")
    assert cmds["apt-get"].args == ("install", "-y", "curl")
    assert cmds["uname"].args == ("-r",)


def test_unclosed_backtick_runs_to_the_end() -> None:
    assert sorted(_names("echo `sudo rm -rf /tmp/x")) == ["echo", "sudo"]
    assert sorted(_names('echo "a `wget http://x/y')) == ["echo", "wget"]
