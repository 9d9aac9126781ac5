"""The walker with a small test-only analyzer: only required files are read, once, seekable."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.errors import AnalyzerError
from containerguard.model import Package
from containerguard.scanner.walker import walk_dir_layer, walk_tar_layer


class PkgListAnalyzer(Analyzer):
    """Reads ``*.pkglist`` files: one ``name version`` per line."""

    type: ClassVar[str] = "pkglist"
    version: ClassVar[int] = 1
    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    def required(self, path: str, mode: int) -> bool:
        return path.endswith(".pkglist")

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        self.seen.append(inp.path)
        inp.stream.seek(0)
        text = inp.stream.read().decode()
        inp.stream.seek(0)  # seekable: reading twice works
        assert inp.stream.read() == text.encode()
        if "BROKEN" in text:
            raise AnalyzerError("cannot parse")
        return AnalysisResult(packages=[Package(name=n, version=v, type="generic")
                                        for n, v in (line.split() for line in text.splitlines() if line)])


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_only_required_files_are_analysed() -> None:
    a = PkgListAnalyzer()
    rec = walk_tar_layer(io.BytesIO(_tar({"a.pkglist": b"x 1\ny 2\n", "big.bin": b"\0" * 100_000,
                                          "sub/b.pkglist": b"BROKEN", "opt/.wh.old": b"", "d/.wh..wh..opq": b""})), [a])
    assert a.seen == ["a.pkglist", "sub/b.pkglist"]
    assert [(p.name, p.version) for p in rec.results["a.pkglist"].packages] == [("x", "1"), ("y", "2")]
    assert "sub/b.pkglist" not in rec.results and any("cannot parse" in w for w in rec.warnings)
    assert rec.whiteouts == ["opt/old"] and rec.opaques == ["d"]
    assert set(rec.files) == {"a.pkglist", "big.bin", "sub/b.pkglist"}


def test_dir_walk(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "c.pkglist").write_text("z 9\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "d.pkglist").write_text("hidden 1\n")
    (tmp_path / "link.pkglist").symlink_to("x/c.pkglist")
    a = PkgListAnalyzer()
    rec = walk_dir_layer(tmp_path, [a])
    assert a.seen == ["x/c.pkglist"]
    assert rec.links == ["link.pkglist"]


def test_a_symlink_before_its_target_is_analysed_in_the_same_pass() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, link in (("etc/os.pkglist", "../usr/lib/os.pkglist"), ("abs.pkglist", "/usr/lib/os.pkglist"),
                           ("late.pkglist", "usr/lib/z.txt")):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = tarfile.SYMTYPE, link
            tf.addfile(ti)
        for name, data in (("usr/lib/os.pkglist", b"base 1\n"), ("usr/lib/z.txt", b"z 2\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    a = PkgListAnalyzer()
    rec = walk_tar_layer(io.BytesIO(buf.getvalue()), [a])
    assert rec.links == ["etc/os.pkglist", "abs.pkglist", "late.pkglist"]
    got = {p: (src, [(k.name, k.version) for k in r.packages] if r else None)
           for p, (src, r) in rec.link_results.items()}
    assert got == {"etc/os.pkglist": ("usr/lib/os.pkglist", [("base", "1")]),
                   "abs.pkglist": ("usr/lib/os.pkglist", [("base", "1")]),
                   "late.pkglist": ("usr/lib/z.txt", [("z", "2")])}
    assert sorted(a.seen) == ["abs.pkglist", "etc/os.pkglist", "late.pkglist", "usr/lib/os.pkglist"]
