"""Every command's --help renders, and help text is shown literally: bracketed text in an option's help or a
command's docstring ("oci:DIR[:TAG]", "syslog[:HOST:PORT|:/dev/log]") is text, never Rich markup, which
would drop "[bold]"-like spans and crash on a "[/x]"."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from typing import Any

import typer

from containerguard.cli.main import main, register_commands

_BRACKETS = re.compile(r"\[[^\]\n]*\]")


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, cmd)]
    if hasattr(cmd, "commands"):  # a group (Typer vendors its own click)
        for name, sub in sorted(cmd.commands.items()):
            out += _commands(sub, (*path, name))
    return out


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_every_help_renders_with_its_bracketed_text_literal() -> None:
    root = typer.main.get_command(register_commands())
    checked = 0
    for path, cmd in _commands(root):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = main([*path, "--help"])
        text = out.getvalue()
        assert rc == 0 and "Usage" in text, (path, text[:300])
        assert "\x1b" not in text
        helps = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        flat = _flat(text)
        for h in helps:
            for span in _BRACKETS.findall(h):
                assert _flat(span) in flat, (path, span)
                checked += 1
    assert checked >= 3  # the sbom target, registry URL and agent output help texts carry brackets


def test_markup_in_help_is_text_for_every_command() -> None:
    """A command registered like ours, with Rich tags in its docstring and option help, shows them as text."""
    code = """
import contextlib, io, typer
from containerguard.cli import main as m
@m.app.command("probe")
def probe(x: str = typer.Option("", help="values [bold]b[/bold] and [/x] and [red]")) -> None:
    '''Probe [bold]doc[/bold] [/x].'''
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = m.main(["probe", "--help"])
print(rc, out.getvalue())
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    flat = _flat(res.stdout)
    assert flat.startswith("0 ") and "Probe [bold]doc[/bold] [/x]." in flat
    assert "values [bold]b[/bold] and [/x] and [red]" in flat
