"""Bad and hostile input to ``containerguard baseline`` (issue 14), through the real CLI entry point: every refused
file gives one line naming file:line, exits 2 and leaves the stored baselines byte for byte as they were; commands
on unknown workloads or a mistyped --baseline-dir give one line and exit 2 and create nothing; names with
terminal control characters are shown escaped."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.runtime.baseline import BaselineStore, import_yaml

GOOD = """\
- workload: sha256:3333/api-*
  image: api:1
  image_id: sha256:3333
  name_pattern: api-*
  mode: monitor
  locked: false
  process:
  - /usr/bin/date|root|/usr/bin/dash|+%s
  file:
  - /var/log/api
  network:
  - listen 8080
  - out 10.0.0.0/24:5432
  syscall:
  - execve
"""


def _state(bdir: Path) -> str:
    """What the store holds (every row), to compare before and after a refused command."""
    with sqlite3.connect(bdir / "baselines.db") as db:
        rows = db.execute("SELECT key, doc, version FROM workloads ORDER BY key").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    d = tmp_path / "store"
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["baseline", "import", str(good), "--baseline-dir", str(d)]) == 0
    return d


BAD = {
    "syntax": ("- workload: a\n  process: [unclosed\n", r"good-ish\.yaml:\d+: invalid YAML"),
    "tab": ("workload: a\n\tmode: monitor\n", r":2: invalid YAML"),
    "not a list": ("just text\n", r":1: expected a baseline mapping"),
    "unknown kind": ("workload: a\ncapabilities: [NET_ADMIN]\n", r":2: capabilities: Extra inputs"),
    "wrong type list": ("workload: a\nfile: /var/log\n", r":2: file: Input should be a valid list"),
    "wrong type item": ("workload: a\nprocess:\n- 12\n", r":3: process\.0: Input should be a valid string"),
    "string bool": ('workload: a\nlocked: "yes"\n', r":2: locked: Input should be a valid boolean"),
    "string number": ('workload: a\ncreated_ns: "12"\n', r":2: created_ns: Input should be a valid integer"),
    "float number": ("workload: a\ncreated_ns: 1.5\n", r":2: created_ns: Input should be a valid integer"),
    "bad mode": ("workload: a\nmode: sleepy\n", r":2: mode: "),
    "duplicate key": ("workload: a\nfile: [/a]\nfile: [/b]\n", r":3: key 'file' appears twice"),
    "duplicate nested": ("- workload: a\n- workload: b\n  mode: learn\n  mode: protect\n", r":4: key 'mode' appears twice"),
    "duplicate workload": ("- workload: a\n- workload: a\n", r":2: workload 'a' appears twice"),
    "empty workload": ("workload: '  '\n", r":1: workload: Value error, must not be empty"),
    "bad network": ("workload: a\nnetwork: ['out nowhere:x']\n", r":2: network: Value error"),
    "bad port": ("workload: a\nnetwork: ['listen 70000']\n", r":2: network: Value error"),
    "bomb": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
             r":1: YAML anchors and aliases are not allowed"),
    "python tag": ("workload: !!python/object/apply:os.system ['true']\n", r":1: invalid YAML"),
    "two documents": ("workload: a\n---\nworkload: b\n", r":\d: invalid YAML"),
    "deep": ("workload: a\nx: " + "[" * 200 + "]" * 200 + "\n", r":\d+: nesting deeper"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_an_invalid_file_is_refused_with_file_line_and_changes_nothing(
        case: str, bdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD[case]
    before = _state(bdir)
    bad = tmp_path / "good-ish.yaml"
    bad.write_text(GOOD + text if case == "syntax" else text)
    capsys.readouterr()
    assert main(["baseline", "import", str(bad), "--baseline-dir", str(bdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}:"), err
    import re

    assert re.search(message, err), err
    assert _state(bdir) == before


def test_non_utf8_huge_and_special_files_are_refused(bdir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = _state(bdir)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(b"workload: a\nfile:\n- /var/caf\xe9\n")
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:
        fh.write(b"workload: a\nfile:\n")
        fh.write(b"- /var/log/x\n" * (17 * 1024 * 1024 // 13))
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, message in ((latin, f"error: {latin}:3: not UTF-8 (byte 0xe9)"),
                          (huge, f"error: {huge}: larger than"), (fifo, f"error: {fifo}: not a regular file"),
                          (tmp_path / "missing.yaml", "cannot read"), (tmp_path, "not a regular file")):
        capsys.readouterr()
        assert main(["baseline", "import", str(path), "--baseline-dir", str(bdir)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert _state(bdir) == before


def test_a_refused_import_creates_no_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workload: a\nfile: [relative]\n")
    assert main(["baseline", "import", str(bad), "--baseline-dir", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args", [["show", ""], ["mode", " ", "protect"], ["lock", ""], ["export", ""]])
def test_an_empty_name_names_no_workload(args: list[str], bdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With one workload stored, '' is a prefix of its key: it must not select it (mode '' protect)."""
    before = _state(bdir)
    capsys.readouterr()
    assert main(["baseline", *args, "--baseline-dir", str(bdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no workload named" in err, err
    assert _state(bdir) == before


@pytest.mark.parametrize("args", [["show", "nosuch"], ["mode", "nosuch", "monitor"], ["lock", "nosuch"],
                                  ["unlock", "nosuch"], ["export", "nosuch"], ["edit", "nosuch"]])
def test_unknown_workloads_and_directories(args: list[str], bdir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = _state(bdir)
    capsys.readouterr()
    assert main(["baseline", *args, "--baseline-dir", str(bdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no baseline for workload 'nosuch'" in err, err
    assert _state(bdir) == before
    typo = tmp_path / "typo" / "dir"
    assert main(["baseline", *args, "--baseline-dir", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no baselines in {typo}" in err, err
    assert not typo.exists() and not typo.parent.exists()


def test_list_of_a_missing_store_is_empty_and_creates_nothing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "none"
    assert main(["baseline", "list", "--baseline-dir", str(d), "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["baseline", "list", "--baseline-dir", str(d)]) == 0
    assert f"0 workloads in {d}" in capsys.readouterr().out
    assert not d.exists()


def test_control_characters_in_names_do_not_reach_the_terminal(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "web\x1b]0;owned\x07\x1b[2J\r\nfake-line\x9b1m"
    f = tmp_path / "hostile.yaml"
    f.write_text(f"workload: {hostile!r}\nimage: 'img\\e[31m'\nname_pattern: '\\x1b[5m'\n".replace("'", '"'))
    (prof,) = import_yaml(f.read_text(), "h.yaml")
    assert prof.key == hostile  # kept as it is in the store
    d = tmp_path / "store"
    assert main(["baseline", "import", str(f), "--baseline-dir", str(d)]) == 0
    capsys.readouterr()
    for args in (["list"], ["show", "web"], ["lock", "web"], ["mode", "web", "monitor"], ["unlock", "web"]):
        assert main(["baseline", *args, "--baseline-dir", str(d)]) == 0, args
        out = capsys.readouterr().out
        assert not any(c in out for c in "\x1b\x07\r\x9b"), (args, out)
        assert out.count("fake-line") <= 1 and "\nfake-line" not in out, (args, out)
    assert BaselineStore(d).find("web").mode == "monitor"


def test_unwritable_outputs_are_one_line_errors(bdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    for out in (tmp_path, tmp_path / "missing" / "x.yaml"):
        assert main(["baseline", "export", "--baseline-dir", str(bdir), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: cannot write {out}"), err
        # profile seccomp refuses before it traces for --duration
        assert main(["profile", "seccomp", "any", "-o", str(out), "--duration", "60"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: cannot write {out}"), err
