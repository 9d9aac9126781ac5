"""Bounded reads of the files a user names on the command line (SBOMs, VEX documents, ignore files).

A name may point at anything: a device that never ends (``/dev/zero``), a FIFO with no writer (opening it
would wait forever), a directory, or a regular file of many gigabytes. :func:`read_input` refuses the
first three by kind and reads at most ``max_bytes + 1`` bytes of the last, so nothing is loaded beyond
the cap. Every refusal is one line, raised as the caller's error class.

This module is in the bottom layer (docs/architecture.md): it imports nothing of ContainerGuard but
:mod:`containerguard.errors`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from containerguard.errors import ContainerGuardError


def read_input(path: str | Path, max_bytes: int, error: type[ContainerGuardError], what: str) -> bytes:
    """The bytes of the regular file ``path``; ``error`` with one line when it is missing, not a regular
    file, unreadable or larger than ``max_bytes``."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once instead of waiting for a writer
    except OSError as exc:
        raise error(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise error(f"{p}: cannot read {what}: not a regular file")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(max_bytes + 1)  # bounded even if the file grows while it is read
        except OSError as exc:
            raise error(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{p}: {what} larger than {max_bytes} bytes")
    return data
