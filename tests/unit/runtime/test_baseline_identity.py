"""One program, one baseline entry (issue 14): executables resolved inside the process's root whatever path they
were started by (a usrmerge link, a link to another name, a relative path, a process gone before /proc was read),
the container runtime as a parent, baselines learned before resolution still valid; and the generalisation of
hostile values (IPv6 and IPv4-mapped peers, traversing paths, long and binary arguments)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore, export_yaml, import_yaml
from containerguard.runtime.baseline.profile import (
    argv_shape,
    dir_prefix,
    entries_of,
    peer_net,
    process_entry,
)
from containerguard.runtime.process import ProcessTable, exe_link, resolve_in_root

CONTAINER = {"container.id": "abcdef012345", "container.name": "web-1", "container.image": "web:1",
             "container.image.id": "sha256:2222"}


def _rootfs(tmp_path: Path) -> Path:
    """A usrmerge root: /bin -> usr/bin, sh -> dash, an absolute link, a link out of the root, a loop."""
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc").mkdir()
    for exe in ("dash", "date", "python3.11"):
        (root / "usr/bin" / exe).write_bytes(b"\x7fELF")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("usr/bin", root / "bin")
    os.symlink("dash", root / "usr/bin/sh")
    os.symlink("/usr/bin/python3.11", root / "usr/bin/python3")
    os.symlink("../../../../../../etc/passwd", root / "usr/bin/up")
    os.symlink("loop-b", root / "usr/bin/loop-a")
    os.symlink("loop-a", root / "usr/bin/loop-b")
    return root


def test_resolve_in_root_follows_links_inside_the_root(tmp_path: Path) -> None:
    root = str(_rootfs(tmp_path))
    assert resolve_in_root(root, "/bin/date") == "/usr/bin/date"
    assert resolve_in_root(root, "/bin/sh") == "/usr/bin/dash"
    assert resolve_in_root(root, "/usr/bin/python3") == "/usr/bin/python3.11"  # absolute: from the root, not /
    assert resolve_in_root(root, "//usr/./bin/../bin/date") == "/usr/bin/date"
    assert resolve_in_root(root, "/usr/bin/up") == "/etc/passwd"  # '..' stops at the root
    assert resolve_in_root(root, "/usr/bin/loop-a") is None
    assert resolve_in_root(root, "/usr/bin/missing") is None


def _proc_root(tmp_path: Path) -> tuple[Path, Path]:
    rootfs = _rootfs(tmp_path)
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    os.symlink(rootfs, proc / "1" / "root")  # the container's init: alive
    return proc, rootfs


def test_resolve_exe_alive_gone_reexeced_and_deleted(tmp_path: Path) -> None:
    proc, _ = _proc_root(tmp_path)
    table = ProcessTable(str(proc))
    # alive: the kernel's own link, whatever the path it was started by
    (proc / "50").mkdir()
    os.symlink("/usr/bin/dash", proc / "50" / "exe")
    assert table.resolve_exe(50, "/bin/sh", "dash", "c1", 1) == "/usr/bin/dash"
    # the pid exec'd something else since: its link is not this exec's executable; resolved in the root instead
    assert table.resolve_exe(50, "/bin/date", "date", "c1", 1) == "/usr/bin/date"
    # gone before /proc was read: resolved in the container init's root
    assert table.resolve_exe(60, "/bin/date", "date", "c1", 1) == "/usr/bin/date"
    assert table.resolve_exe(61, "/usr/bin/python3", "python3.11", "c1", 1) == "/usr/bin/python3.11"
    # nothing to read it from: the path it was started by
    assert table.resolve_exe(62, "/bin/date", "date", "c2", 0) == "/bin/date"
    # a name the kernel did not open (the root's link now points elsewhere): not trusted
    assert table.resolve_exe(63, "/bin/sh", "busybox", "c3", 1) == "/bin/sh"
    assert table.resolve_exe(64, "memfd:x", "memfd:x", "c1", 1) == "memfd:x"
    # a script: the kernel runs its interpreter (argv[0] from the #! line); alive or gone, the same answer
    (proc / "65").mkdir()
    os.symlink("/usr/bin/dash", proc / "65" / "exe")
    assert table.resolve_exe(65, "/opt/job.sh", "dash", "c1", 1, "/bin/sh") == "/usr/bin/dash"
    assert table.resolve_exe(66, "/opt/job.sh", "dash", "c1", 1, "/bin/sh") == "/usr/bin/dash"
    assert exe_link("/usr/bin/app (deleted)") == "/usr/bin/app"  # upgraded under a running process
    assert exe_link("/memfd:runc_cloned:/proc/self/exe (deleted)") == "memfd:runc_cloned:/proc/self/exe"


def test_exec_seen_and_read_from_proc_give_the_same_fields(tmp_path: Path) -> None:
    """The first agent sees the server start as /usr/bin/python3 (a link); a restarted one reads it from /proc."""
    proc, _ = _proc_root(tmp_path)
    (proc / "70").mkdir()
    os.symlink("/usr/bin/python3.11", proc / "70" / "exe")
    first = ProcessTable(str(proc))
    server = first.exec(70, 1, "python3", "/usr/bin/python3", ["/usr/bin/python3", "-B"], uid=0, gid=0, tty=0,
                        loginuid=-1, ts=1, container_id="c1", exe_name="python3.11", root_pid=1)
    date = first.exec(71, 70, "date", "/bin/date", ["/bin/date", "+%s"], uid=0, gid=0, tty=0, loginuid=-1, ts=2,
                      container_id="c1", exe_name="date", root_pid=1)  # gone already: no /proc/71
    assert server.exepath == "/usr/bin/python3" and server.exe_resolved == "/usr/bin/python3.11"
    seen = first.fields(date)
    restarted = ProcessTable(str(proc))  # the server is loaded from /proc/70 (no /proc/70/stat here: built by hand)
    restarted.procs[70] = restarted.procs.get(70) or _loaded(proc, 70)
    date2 = restarted.exec(72, 70, "date", "/usr/bin/date", ["date", "+%s"], uid=0, gid=0, tty=0, loginuid=-1,
                           ts=3, container_id="c1", exe_name="date", root_pid=1)
    again = restarted.fields(date2)
    assert seen["proc.pexepath"] != again["proc.pexepath"]  # what the flaky deviation came from
    f1 = {**seen, "user.name": "root"}
    f2 = {**again, "user.name": "root"}
    assert process_entry(f1) == process_entry(f2) == "/usr/bin/date|root|/usr/bin/python3.11|+%s"


def _loaded(proc: Path, pid: int) -> Any:
    from containerguard.runtime.process import Proc

    link = os.readlink(proc / str(pid) / "exe")
    return Proc(pid=pid, ppid=1, name="python3", exepath=link, exe_resolved=exe_link(link))


@pytest.mark.parametrize("parent", ["/usr/sbin/runc", "/usr/bin/containerd-shim-runc-v2", "runc:[2:INIT]",
                                    "memfd:runc_cloned:/proc/self/exe", "/usr/bin/crun", "/usr/bin/conmon"])
def test_a_runtime_parent_is_one_parent(parent: str) -> None:
    f = {"proc.exe_resolved": "/usr/bin/true", "proc.pexe_resolved": parent, "user.name": "root", "proc.args": ""}
    assert process_entry(f) == "/usr/bin/true|root|<runtime>|"
    assert process_entry({**f, "proc.pexe_resolved": "/usr/bin/runcible"}) == "/usr/bin/true|root|/usr/bin/runcible|"


def _event(**f: Any) -> Event:
    return Event(type="execve", time_ns=1, fields={**CONTAINER, "evt.type": "execve", "user.name": "root",
                                                   "proc.pid": 9, **f})


def test_a_baseline_learned_before_resolution_stays_valid(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    (old,) = import_yaml("workload: sha256:2222/web-*\nimage_id: sha256:2222\nname_pattern: web-*\nmode: monitor\n"
                         "process: ['/bin/date|root|/usr/bin/python3|+%s']\nsyscall: [execve]\n", "old.yaml")
    store.save(old)
    det = BaselineDetector(store)
    ev = _event(**{"proc.exepath": "/bin/date", "proc.exe_resolved": "/usr/bin/date", "proc.args": "+%s",
                   "proc.pexepath": "/usr/bin/python3", "proc.pexe_resolved": "/usr/bin/python3.11"})
    assert det.detect(ev) == []
    det.flush()
    assert "/usr/bin/date|root|/usr/bin/python3.11|+%s" in store.find("web-*").entries["process"]
    new = _event(**{"proc.exepath": "/bin/date", "proc.exe_resolved": "/usr/bin/date", "proc.args": "-u",
                    "proc.pexepath": "/usr/bin/python3", "proc.pexe_resolved": "/usr/bin/python3.11"})
    assert len(det.detect(new)) == 1  # a really new one still alerts


@pytest.mark.parametrize(("addr", "net"), [
    ("10.1.2.3", "10.1.2.0/24"),
    ("::ffff:10.1.2.3", "10.1.2.0/24"),  # a dual-stack socket's IPv4 peer: not '::/64', which covers every one
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
    ("0.0.0.0", "0.0.0.0"), ("::", "::"),
    ("fe80::1%eth0", "fe80::1"), ("169.254.169.254", "169.254.169.254"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("not-an-ip", "not-an-ip"),
])
def test_peer_generalisation(addr: str, net: str) -> None:
    assert peer_net(addr) == net


def test_mapped_and_plain_ipv4_peers_are_one_entry_and_do_not_cover_others() -> None:
    def out(ip: str) -> list[tuple[str, str]]:
        return entries_of("connect", {"fd.typechar": "6", "fd.sip": ip, "fd.sport": 443})

    assert out("::ffff:93.184.216.34") == out("93.184.216.34") == [("network", "out 93.184.216.0/24:443")]
    assert out("::ffff:93.184.216.34") != out("::ffff:8.8.8.8")


@pytest.mark.parametrize(("path", "d"), [
    ("/var/log/app/x.log", "/var/log/app"),
    ("/var/log/../../tmp/x", "/tmp"),  # not under /var/log
    ("//etc//cron.d/job", "/etc/cron.d"),
    ("/var/log/./app/x", "/var/log/app"),
    ("/../../x", "/"),
    ("/x", "/"),
])
def test_written_directory_is_normalised(path: str, d: str) -> None:
    assert dir_prefix(path) == d


def test_argv_shape_of_long_and_binary_arguments() -> None:
    long = "Z" * 1_000_000
    shape = argv_shape(f"-c {long} x")
    assert len(shape) < 200 and shape == "-c " + "Z" * 96 + "... x"
    many = argv_shape(" ".join(str(i) for i in range(200_000)))
    assert many == " ".join(["<N>"] * 8) + " ..."
    binary = "\x1b[m\x00\udcff\u202e\ufffd"
    assert argv_shape(binary) == binary  # kept as it is; shown escaped (tables, YAML), not interpreted


def test_hostile_learned_entries_survive_export_and_import(tmp_path: Path) -> None:
    """What the agent learns from hostile values must export as YAML and import back unchanged."""
    store = BaselineStore(tmp_path)
    det = BaselineDetector(store)
    evs = [
        _event(**{"proc.exepath": "memfd:payload", "proc.args": "\x1b]0;x\x07 \udcff", "proc.pexepath": ""}),
        _event(**{"proc.exepath": "./rel|tool", "proc.args": "a|b", "proc.pname": "sh"}),
        _event(**{"proc.exepath": "", "proc.exe": "", "proc.args": ""}),
        Event(type="connect", time_ns=1, fields={**CONTAINER, "fd.typechar": "6", "fd.sip": "fe80::1%eth0",
                                                 "fd.sport": 53}),
        Event(type="connect", time_ns=1, fields={**CONTAINER, "fd.typechar": "4", "fd.sip": None, "fd.sport": None}),
        Event(type="accept4", time_ns=1, fields={**CONTAINER, "fd.typechar": "6", "fd.cip": "::ffff:10.0.0.9"}),
        Event(type="openat", time_ns=1, fields={**CONTAINER, "fd.name": "/tmp/\n\x1b[2J/x", "evt.is_open_write": True}),
    ]
    for ev in evs:
        det.detect(ev)
    det.flush()
    text = export_yaml(store.load_all())
    (back,) = import_yaml(text, "export.yaml")
    assert back.entries == store.load_all()[0].entries


def test_container_name_patterns_in_linear_time() -> None:
    """A container name is chosen by whoever starts the container: a hostile one must not stall the agent."""
    import time

    from containerguard.runtime.baseline import name_pattern

    cases = {"web-1": "web-*", "shop-web-12": "shop-web-*", "job_3f2a9c0e-2": "job-*", "a.b.1": "a.b-*",
             "web": "web", "-123": "-123", "api-v2": "api-v2", "cache-deadbeef": "cache-*", "x-dead": "x-dead"}
    assert {n: name_pattern(n) for n in cases} == cases
    hostile = "a" + "-11111" * 5000 + "z"  # a regular expression with nested repetition backtracks for ever
    t0 = time.perf_counter()
    assert name_pattern(hostile) == hostile
    assert name_pattern("a" + "-11111" * 5000) == "a-*"
    assert time.perf_counter() - t0 < 0.5


def test_learning_stops_at_the_cap_and_the_baseline_stays_small(tmp_path: Path) -> None:
    """A workload that writes to a new directory on every request: its baseline stops growing at MAX_LEARNED per
    kind, stays under 1 MB stored, and what was not learned is not taken as known once monitored."""
    import json
    import random
    import string

    from containerguard.runtime.baseline.detector import MAX_LEARNED

    rng = random.Random(7)
    now = [10**18]
    det = BaselineDetector(BaselineStore(tmp_path), quiet_s=60, clock=lambda: now[0])

    def write(d: str) -> Event:
        return Event(type="openat", time_ns=1, fields={**CONTAINER, "fd.name": f"/srv/data/{d}/f",
                                                       "evt.is_open_write": True, "evt.failed": False})

    names = ["".join(rng.choices(string.ascii_lowercase, k=12)) for _ in range(MAX_LEARNED + 500)]
    for n in names:
        assert det.detect(write(n)) == []
    det.flush()
    (prof,) = det.store.load_all()
    assert len(prof.entries["file"]) == MAX_LEARNED
    with sqlite3.connect(tmp_path / "baselines.db") as db:
        (doc,) = db.execute("SELECT doc FROM workloads").fetchone()
    assert len(doc) < 1_000_000 and json.loads(doc)["workload"] == prof.key
    now[0] += 61 * 10**9  # quiet: promoted to monitor
    learned = [n for n in names if dir_prefix(f"/srv/data/{n}/f") in prof.entries["file"]]
    unlearned = [n for n in names if dir_prefix(f"/srv/data/{n}/f") not in prof.entries["file"]]
    assert [a.rule_id for a in det.detect(write(unlearned[0]))] == ["CG-B002"]
    assert det.detect(write(learned[0])) == []


def test_directory_coverage_is_linear_for_deep_paths() -> None:
    import time

    from containerguard.runtime.baseline.profile import covered

    known = {"/var/log", "/srv/app/cache"}
    assert covered("file", "/var/log/app/x", known) and covered("file", "/srv/app/cache/a/b", known)
    assert not covered("file", "/var", known) and not covered("file", "/srv/app", known)
    assert not covered("file", "/var/logs/x", known) and covered("file", "/var/log", known)
    assert not covered("file", "/tmp/x", {"/tmp"})  # one level: no subdirectories
    deep = "/" + "/".join(["abcdefg"] * 580)  # a written file 580 levels down, in protect mode checked every time
    t0 = time.perf_counter()
    for _ in range(1000):
        assert not covered("file", deep, known)
    assert time.perf_counter() - t0 < 0.5
    assert covered("file", "/var/log" + deep, known)
