"""read_input: the files a user names are read bounded, and a device, FIFO or directory is refused by kind
(``--vex /dev/zero`` and ``scan sbom:FIFO`` once hung; a directory gave an internal error)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerguard.errors import PolicyError, UsageError
from containerguard.inputfile import read_input


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    def boom(*_a: object) -> None:
        raise TimeoutError("read_input blocked")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_regular_file_within_the_cap(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_bytes(b"x" * 100)
    assert read_input(f, 100, UsageError, "SBOM") == b"x" * 100


def test_over_the_cap_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    f = tmp_path / "huge.json"
    with open(f, "wb") as fh:
        fh.truncate(8 << 30)  # a sparse 8 GiB file: reading it whole would take the machine's memory
    with pytest.raises(PolicyError, match=r"huge\.json: VEX document larger than 1024 bytes"):
        read_input(f, 1024, PolicyError, "VEX document")


@pytest.mark.parametrize("kind", ["fifo", "devzero", "dir"])
def test_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "input"
    if kind == "fifo":
        os.mkfifo(p)  # no writer: a plain open() would wait forever
    elif kind == "devzero":
        p.symlink_to("/dev/zero")  # endless
    else:
        p.mkdir()
    with pytest.raises(UsageError, match="cannot read SBOM: not a regular file") as exc:
        read_input(p, 1 << 20, UsageError, "SBOM")
    assert "\n" not in str(exc.value)


def test_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read ignore file: No such file or directory"):
        read_input(tmp_path / "nope.yaml", 10, UsageError, "ignore file")
