"""The single-range fast path of range compilation gives exactly what the general compiler gives."""

from __future__ import annotations

from typing import Any

import pytest

from containerguard.detect.matcher import _compile
from containerguard.versioning import get_scheme

SHAPES = [
    ("PyPI", [["i", "1.0"], ["f", "2.0"]]),
    ("PyPI", [["i", "0"], ["f", "2.0"]]),
    ("PyPI", [["i", "2.0"], ["f", "1.0"]]),  # closing event before the opening one: the range stays open
    ("PyPI", [["i", "1.0"], ["f", "1.0"]]),
    ("npm", [["i", "0"], ["l", "4.17.20"]]),
    ("npm", [["i", "5.0.0"], ["l", "4.0.0"]]),
    ("Go", [["i", "1.2.0"]]),
    ("Go", [["i", "0"]]),
    ("Debian:12", [["i", "0"], ["f", "7.88.1-10+deb12u4"]]),
    ("Maven", [["i", "2.0-beta9"], ["f", "2.15.0"]]),
]


def _general(eco: str, events: list[Any]) -> tuple[Any, Any]:
    # a second, empty range keeps _compile off the fast path; its own output is dropped
    e = _compile(get_scheme(eco), [["ECOSYSTEM", events], ["ECOSYSTEM", []]], "", "X-1", "test", "")
    assert e is not None
    return e.ranges[0], e.fixes[0]


@pytest.mark.parametrize(("eco", "events"), SHAPES)
def test_fast_path_equals_general_compiler(eco: str, events: list[Any]) -> None:
    e = _compile(get_scheme(eco), [["ECOSYSTEM", events]], "", "X-1", "test", "")
    assert e is not None
    assert (e.ranges[0], e.fixes[0]) == _general(eco, events)
    assert len(e.ranges) == len(e.fixes) == 1


def test_unparseable_version_drops_the_record_on_both_paths() -> None:
    npm = get_scheme("npm")
    bad = [["i", "0"], ["f", "not a version"]]
    assert _compile(npm, [["SEMVER", bad]], "", "X-1", "test", "") is None
    assert _compile(npm, [["SEMVER", bad], ["SEMVER", []]], "", "X-1", "test", "") is None
