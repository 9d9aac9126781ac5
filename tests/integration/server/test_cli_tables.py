"""The server's list commands (`token`, `user`, `registry`, `notify`) draw tables that fit the terminal
with hostile names from the server's data: at COLUMNS=80, 120 and 200 no line is wider than the terminal,
one line per row, markup shown literally and no escape sequence passed through."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures import server as srv

from containerguard.report.terminal import cells

MARK = "[/x] [bold]loud[/bold] [red]"
ESC = "\x1b[2J"


def cg(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", *args], capture_output=True, text=True,
                          input=stdin, env={**os.environ, **(env or {})}, timeout=300)


def test_list_tables_fit_and_show_data_literally(tmp_path):
    from cryptography.fernet import Fernet

    s = srv.ServerProcess.server(tmp_path, env={"XDG_DATA_HOME": str(tmp_path / "xdg"),
                                                "CONTAINERGUARD_SECRET_KEY": Fernet.generate_key().decode()})
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        auth = {"CONTAINERGUARD_SERVER": s.url, "CONTAINERGUARD_TOKEN": admin}
        hostile = f"{MARK}{ESC}" + "n" * 150
        made = [cg("token", "create", hostile, "--role", "viewer", env=auth),
                cg("user", "create", "alice", "--password-stdin", env=auth, stdin="correct horse battery staple\n"),
                cg("notify", "add", MARK + "n" * 150, "https://hooks.example.invalid/" + "p" * 150, env=auth),
                cg("registry", "add", "shop", "http://127.0.0.1:9", "--interval", "0",
                   "--repository", f"{MARK}{'r' * 150}", env=auth)]
        assert [r.returncode for r in made] == [0, 0, 0, 0], [r.stderr for r in made]
        for width in (80, 120, 200):
            env = {**auth, "COLUMNS": str(width)}
            for cmd, needle in ((["token", "list"], "[/"), (["user", "list"], "alice"),
                                (["notify", "list"], "[/"), (["registry", "list"], "shop")):
                out = cg(*cmd, env=env)
                assert out.returncode == 0, out.stderr
                wide = [ln for ln in out.stdout.splitlines() if cells(ln) > width]
                assert wide == [], (cmd, width, wide[:2])
                assert "\x1b" not in out.stdout, cmd
                assert len([ln for ln in out.stdout.splitlines() if needle in ln]) == 1, (cmd, out.stdout)
        wide = cg("token", "list", env={**auth, "COLUMNS": "250"}).stdout
        assert f"{MARK}\\x1b[2J" in wide  # the escape made visible, the markup as text
    finally:
        s.stop()
