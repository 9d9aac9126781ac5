"""Zero-drift against the ways around it (issue 14), through the real agent (eBPF sensor) and real containers.

Every change is made after the container and the agent started. Drift (``CG-B005``), each exactly once and named
by the file that ran: a copy renamed or hard-linked into an image directory, a file made executable after it was
written, a script, a program run from memory (``memfd_create`` then an exec of ``/proc/self/fd/N``, also with the
memfd named as the runtime names its own copy of itself), and a written file run through ``/proc/self/fd/N``.
No drift: the image's own programs run through a descriptor (``/proc/self/fd/N``, ``fexecve``) or through
``/proc/self/exe``, however fast they exit, and the start of every container (the runtime's own memfd).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.integration.test_baseline import Agent, _docker, _wait, python_image

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

_PY = "python3 -c \"import os; {}\""
_MEMFD = ("fd = os.memfd_create('{}'); os.write(fd, open('/usr/bin/sleep', 'rb').read()); "
          "os.execv(f'/proc/self/fd/{{fd}}', ['x', '0'])")
#: case -> (shell command, the executable a drift alert names, or None for no drift)
CASES: dict[str, tuple[str, str | None]] = {
    "renamed": ("cp /usr/bin/sleep /tmp/b && mv /tmp/b /usr/local/bin/cgtool && /usr/local/bin/cgtool 0",
                "/usr/local/bin/cgtool"),
    "hardlinked": ("cp /usr/bin/sleep /tmp/c && ln /tmp/c /usr/bin/cglinked && /usr/bin/cglinked 0",
                   "/usr/bin/cglinked"),
    "chmod": ("cat /usr/bin/sleep > /tmp/d && chmod +x /tmp/d && /tmp/d 0", "/tmp/d"),
    "script": ("printf '#!/bin/sh\\nexit 0\\n' > /tmp/s.sh && chmod +x /tmp/s.sh && /tmp/s.sh", "/tmp/s.sh"),
    "memfd": (_PY.format(_MEMFD.format("payload")), "memfd:payload"),
    "memfd named as runc's": (_PY.format(_MEMFD.format("runc_cloned:/proc/self/exe")),
                              "memfd:runc_cloned:/proc/self/exe"),
    "written, through fd": ("cp /usr/bin/sleep /tmp/e && " + _PY.format(
        "fd = os.open('/tmp/e', os.O_RDONLY); os.execv(f'/proc/self/fd/{fd}', ['e', '0'])"), "/tmp/e"),
    "image's, through fd": (_PY.format(
        "fd = os.open('/usr/bin/sleep', os.O_RDONLY); os.execv(f'/proc/self/fd/{fd}', ['sleep', '0'])"), None),
    "image's, fexecve": (_PY.format("fd = os.open('/usr/bin/true', os.O_RDONLY); os.execve(fd, ['true'], {})"), None),
    "image's, /proc/self/exe": (_PY.format("os.execv('/proc/self/exe', ['python3', '-c', 'pass'])"), None),
}


def test_drift_evasions_are_drift_and_the_images_own_programs_are_not(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        pytest.skip("the eBPF sensor needs root and bpftrace (scripts/setup)")
    image = python_image()
    agent = Agent(tmp_path, tmp_path / "baselines")
    names = {case: f"cgr2b-ev{i}-{os.getpid()}" for i, case in enumerate(CASES)}
    try:
        for n in names.values():
            _docker("run", "-d", "--network", "none", "--name", n, image, "sleep", "300")
        time.sleep(2)
        for case, (cmd, _) in CASES.items():
            r = _docker("exec", names[case], "sh", "-c", cmd, check=False)
            assert r.returncode == 0, (case, r.stderr[-500:])
        want = {c: exe for c, (_, exe) in CASES.items() if exe is not None}

        def drift(case: str) -> list[str]:
            return [d["output_fields"]["proc.exepath"] for d in agent.docs(names[case]) if d["rule_id"] == "CG-B005"]

        _wait(lambda: all(drift(c) for c in want), 60, "the drift alerts")
        time.sleep(3)  # time for a wrong alert to show
        got = {c: drift(c) for c in CASES}
        assert got == {c: [want[c]] if c in want else [] for c in CASES}, got
    finally:
        agent.stop()
        _docker("rm", "-f", *names.values(), check=False)
