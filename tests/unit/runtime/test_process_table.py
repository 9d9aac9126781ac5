"""The process table against the real /proc: seeding, ancestors, exec records, drift bookkeeping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from containerguard.runtime.process import ProcessTable, UserNames, load_proc


def test_load_proc_of_a_real_process() -> None:
    child = subprocess.Popen(["sleep", "30", "1"], cwd="/tmp")
    try:
        import time

        time.sleep(0.1)  # Popen returns at the exec's point of no return, before the new argv is in place
        p = load_proc(child.pid)
        assert p is not None
        assert p.name == "sleep" and p.args == ("30", "1") and p.ppid == os.getpid()
        assert p.exepath.endswith("/sleep") and p.cwd == "/tmp" and p.uid == os.geteuid()
        assert p.cmdline == "sleep 30 1"
    finally:
        child.kill()
        child.wait()
    assert load_proc(child.pid) is None


def test_seed_and_ancestors() -> None:
    t = ProcessTable()
    assert t.seed() > 1 and os.getpid() in t.procs
    child = subprocess.Popen([sys.executable, "-c", "import subprocess; subprocess.run(['sleep', '5'])"])
    try:
        import time

        deadline = time.monotonic() + 5
        grandchild = None
        while grandchild is None and time.monotonic() < deadline:
            out = subprocess.run(["pgrep", "-P", str(child.pid)], capture_output=True, text=True).stdout.split()
            grandchild = int(out[0]) if out else None
            time.sleep(0.05)
        assert grandchild is not None
        p = t.get(grandchild)  # unknown so far: loaded lazily from /proc
        anc = t.ancestors(p)
        assert [a.pid for a in anc[:2]] == [child.pid, os.getpid()]
        f = t.fields(p)
        assert f["proc.name"] == "sleep" and f["proc.pid"] == grandchild
        assert f["proc.pname"].startswith("python") and f["proc.apids"][:2] == [child.pid, os.getpid()]
        assert f["proc.pcmdline"].endswith("subprocess.run(['sleep', '5'])")
    finally:
        child.kill()
        child.wait()


def test_exec_and_exit_and_drift_bookkeeping() -> None:
    t = ProcessTable()
    t.note_written("abc123", "/tmp/dropper")
    p = t.exec(999999, os.getpid(), "dropper", "/tmp/dropper", ["/tmp/dropper", "-x"], uid=0, gid=0, tty=0,
               loginuid=-1, ts=1, container_id="abc123")
    assert p.is_exe_written and p.args == ("-x",) and p.exe == "/tmp/dropper"
    q = t.exec(999998, os.getpid(), "ls", "/bin/ls", ["ls"], uid=0, gid=0, tty=0, loginuid=-1, ts=1,
               container_id="abc123")
    assert not q.is_exe_written
    other = t.exec(999997, 1, "dropper", "/tmp/dropper", ["dropper"], uid=0, gid=0, tty=0, loginuid=-1, ts=1,
                   container_id="host")
    assert not other.is_exe_written  # written in another container
    t.exit(999999)
    assert 999999 not in t.procs
    t.container_gone("abc123")
    assert "abc123" not in t.written


def test_user_names_from_the_process_root() -> None:
    names = UserNames()
    assert names.name(os.getpid(), 0, "host") == "root"
    assert names.name(os.getpid(), 65534, "host") == "nobody"


def test_a_vanished_process_is_counted_and_its_fields_are_na(tmp_path) -> None:
    """An event of a process the table never saw exec and /proc no longer has is evaluated with what the event
    carries; everything else is None (<NA> in outputs, no match in conditions), and it is counted."""
    from containerguard.runtime.process import ProcessTable

    table = ProcessTable(proc_root=str(tmp_path))  # an empty /proc: every pid is gone
    p = table.get(4242, ppid=1, comm="ghost", container_id="abc")
    assert table.unresolved == 1
    f = table.fields(p)
    assert f["proc.name"] == "ghost" and f["proc.pid"] == 4242
    assert f["proc.exe_ino"] is None and f["proc.env"] is None and f["proc.stdin.type"] is None
    table.get(4242)
    assert table.unresolved == 1  # known now: counted once


def test_exec_keeps_kernel_facts_and_session_leaders() -> None:
    from containerguard.runtime.process import ProcessTable

    table = ProcessTable(proc_root="/nonexistent")
    leader = table.exec(100, 1, "bash", "/bin/bash", ["bash"], uid=0, gid=0, tty=0, loginuid=-1, ts=10**18,
                        container_id="c", pgid=100, sid=100)
    leader.cwd = "/srv"
    child = table.exec(101, 100, "nc", "/usr/local/bin/busybox", ["nc", "-e", "/bin/sh"], uid=0, gid=0, tty=0,
                       loginuid=-1, ts=10**18 + 5, container_id="c", exe_ino=77, exe_ctime=10**18 - 1000,
                       exe_mtime=1, pgid=100, sid=100, env={"A": "1"}, stdio=(("ipv4", "a->b"), ("ipv4", "a->b"),
                                                                              ("file", None)))
    f = table.fields(child)
    assert child.cwd == "/srv"  # gone from /proc: the parent's cwd, inherited across fork and exec
    assert (f["proc.sname"], f["proc.is_sid_leader"], f["proc.is_vpgid_leader"], f["proc.vpgid.name"]) == \
        ("bash", False, False, "bash")
    assert (f["proc.exe_ino"], f["proc.exe_ino.ctime_duration_proc_start"]) == (77, 1005)
    assert f["proc.env"] == {"A": "1"} and f["proc.stdin.type"] == "ipv4" and f["proc.stdin.name"] == "a->b"
    assert f["proc.aexepaths"] == ["/bin/bash"] and f["proc.cmdnargs"] == 2


def test_a_process_gone_before_its_exec_is_seen_takes_its_parents_current_cwd(tmp_path: Path) -> None:
    """A short command run by a shell that did `cd /work` after its own exec: the command's cwd is the shell's now."""
    (tmp_path / "100").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "100" / "cwd").symlink_to(work)
    table = ProcessTable(proc_root=str(tmp_path))
    shell = table.exec(100, 1, "sh", "/bin/sh", ["sh"], uid=0, gid=0, tty=0, loginuid=-1, ts=1, container_id="c")
    assert shell.cwd == str(work)
    (tmp_path / "100" / "cwd").unlink()
    (tmp_path / "100" / "cwd").symlink_to(tmp_path)  # the shell ran cd
    gone = table.exec(101, 100, "grep", "/bin/grep", ["grep"], uid=0, gid=0, tty=0, loginuid=-1, ts=2, container_id="c")
    assert gone.cwd == str(tmp_path)
