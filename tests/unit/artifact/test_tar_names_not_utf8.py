"""Names that are not UTF-8 (any byte string is a valid Linux file name) come out of a layer walk and a
directory walk as valid text with the odd bytes written ``\\xNN``, counted in one warning: a lone
surrogate from the decode once reached the reports (invalid UTF-8 in JSON and HTML, a crash in SARIF)."""

from __future__ import annotations

import io
import os
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from containerguard.artifact import tarwalk
from containerguard.scanner.walker import walk_directory

BAD = "caf\udce9-\udcff"  # b"caf\xe9-\xff": Latin-1 bytes, as surrogateescape decodes them
SHOWN = "caf\\xe9-\\xff"


def _tar(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tf:
        for name, typ, link, data in [(f"etc/{BAD}.env", tarfile.REGTYPE, "", b"k=v\n"),
                                      (f"etc/ln-{BAD}", tarfile.SYMTYPE, f"{BAD}.env", b""),
                                      (f"etc/hard-{BAD}", tarfile.LNKTYPE, f"etc/{BAD}.env", b""),
                                      (f"etc/.wh.{BAD}", tarfile.REGTYPE, "", b""),
                                      ("etc/ok-é", tarfile.REGTYPE, "", b"x")]:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.size = typ, link, len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_layer_names_are_valid_text(fmt: int) -> None:
    counts: Counter[str] = Counter()
    entries = list(tarwalk.walk(io.BytesIO(_tar(fmt)), counts))
    for e in entries:
        e.path.encode("utf-8")  # strict: no lone surrogate left
        e.link.encode("utf-8")
    by_path = {e.path: e for e in entries}
    assert by_path[f"etc/{SHOWN}.env"].kind == tarwalk.FILE
    assert by_path[f"etc/ln-{SHOWN}"].link == f"{SHOWN}.env"
    hard = by_path[f"etc/hard-{SHOWN}"]
    assert hard.kind == tarwalk.HARDLINK and hard.link == f"etc/{SHOWN}.env"  # still names its target
    assert by_path[f"etc/{SHOWN}"].kind == tarwalk.WHITEOUT
    assert "etc/ok-é" in by_path  # valid UTF-8 is left as it is
    assert counts["not_utf8"] == 4 and counts["bad_hardlink"] == 0
    assert tarwalk.warning_lines(counts, "layer 0") == ["layer 0: 4 names that are not valid UTF-8 (shown with \\xNN escapes)"]


def test_printable_name() -> None:
    assert tarwalk.printable_name("plain/ascii") == "plain/ascii"
    assert tarwalk.printable_name("ünïcode") == "ünïcode"
    assert tarwalk.printable_name("a\udc80b") == "a\\x80b"
    assert tarwalk.printable_name("a\ud800b") == "a\\ud800b"  # a surrogate no byte stands for


def test_directory_names_are_valid_text(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    raw = os.fsencode(str(root / "d")) + b"/caf\xe9-\xff.env"
    with open(raw, "wb") as fh:
        fh.write(b"k=v\n")
    os.symlink(b"caf\xe9-\xff.env", os.fsencode(str(root / "d")) + b"/ln")
    counts: Counter[str] = Counter()
    entries = {e.path: e for e in walk_directory(root, counts)}
    assert f"d/{SHOWN}.env" in entries and entries["d/ln"].link == f"{SHOWN}.env"
    with open(entries[f"d/{SHOWN}.env"]._info, "rb") as fh:
        assert fh.read() == b"k=v\n"  # still opened by its real name
    assert counts["not_utf8"] == 1  # names are counted, link targets only escaped
