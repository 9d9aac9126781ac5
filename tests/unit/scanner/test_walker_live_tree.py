"""A ``dir:`` tree that changes while it is scanned (a log appended to, a file removed or unreadable) costs
that file at most, never the scan: a file that grew once stopped it with "truncated tar stream", and one
that could not be opened (permission denied; here removed after the walk saw it) with an internal error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.scanner import walker
from containerguard.scanner.walker import walk_dir_layer


class Reader(Analyzer):
    type: ClassVar[str] = "reader"
    version: ClassVar[int] = 1

    def __init__(self) -> None:
        self.read: dict[str, bytes] = {}

    def required(self, path: str, mode: int) -> bool:
        return path.endswith(".log")

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        self.read[inp.path] = inp.stream.read()
        return AnalysisResult()


def _changing(action: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = walker.walk_directory

    def walk(*args: Any, **kwargs: Any) -> Iterator[walker.Entry]:
        for e in real(*args, **kwargs):
            if e.kind == walker.FILE and e.path.endswith("app.log"):
                if action == "grow":
                    with open(e._info, "ab") as fh:
                        fh.write(b"appended after the walk saw the file\n" * 1000)
                else:
                    os.unlink(e._info)
            yield e

    monkeypatch.setattr(walker, "walk_directory", walk)


def test_a_file_that_grows_is_read_as_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.log").write_bytes(b"first line\n")
    (tmp_path / "other.log").write_bytes(b"other\n")
    _changing("grow", monkeypatch)
    a = Reader()
    rec = walk_dir_layer(tmp_path, [a])
    assert a.read == {"app.log": b"first line\n", "other.log": b"other\n"}
    assert rec.warnings == []


def test_a_file_that_cannot_be_opened_is_skipped_with_a_warning(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.log").write_bytes(b"first line\n")
    (tmp_path / "other.log").write_bytes(b"other\n")
    _changing("remove", monkeypatch)
    a = Reader()
    rec = walk_dir_layer(tmp_path, [a])
    assert a.read == {"other.log": b"other\n"}
    assert rec.warnings == ["app.log: cannot read (No such file or directory); skipped"]
