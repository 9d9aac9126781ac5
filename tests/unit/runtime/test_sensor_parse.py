"""The sensor line parser: real bpftrace output lines, continuation pairing, garbage and drop counting."""

from __future__ import annotations

from containerguard.runtime.sensor.parse import LineParser, decode_buf

# lines as bpftrace printed them on this host (see runtime/sensor/script.py for the layout)
CAPS = "a80425fb\ta80425fb"
EXEC = (f"execve\t1108789107755\t32558\t32558\t32436\t0\t0\t4026532180\t{CAPS}\tcat\t0\t-1\t0\t1590912\t"
        "1796134188465701561\t1663687647000000000\t1\t14447\t14447\t2\t1\t1\t99\n")
EXEC_MORE = ["more\t32558\t/usr/bin/cat\n", "more\t32558\tcat\n", "more\t32558\tcat\\x00/etc/shadow\\x00\n",
             "more\t32558\tPATH=/usr/bin\\x00HOME=/root\\x00\n", "more\t32558\t1 0 0 0 - 0 - 0\n"]
OPEN = f"openat\t938866826498\t31560\t31560\t31554\t0\t0\t4026532180\t{CAPS}\tcat\t3\t0\t0\t-100\t/etc/shadow\n"
CONNECT = (f"connect\t1435315969469\t451\t451\t334\t0\t0\t4026531832\t{CAPS}\tpython3\t-115\t3\t2\t127.0.0.1\t"
           "3333\n")
CONNECT_MORE = "more\t451\t12 1 6 2 127.0.0.1 50312 127.0.0.1 3333\n"
RENAME = f"renameat2\t1\t10\t11\t9\t0\t0\t4026532180\t{CAPS}\tmv\t0\t/etc/foo\n"


def test_event_line() -> None:
    p = LineParser()
    ev = p.feed(OPEN)
    assert ev is not None
    assert (ev.type, ev.pid, ev.ppid, ev.mntns, ev.comm, ev.res) == ("openat", 31560, 31554, 4026532180, "cat", 3)
    assert ev.args == ["0", "0", "-100", "/etc/shadow"]
    assert ev.cap_effective == ev.cap_permitted == 0xA80425FB
    assert p.feed(CONNECT) is None  # waits for its socket line
    c = p.feed(CONNECT_MORE)
    assert c is not None and c.args == ["3", "2", "127.0.0.1", "3333"] and c.res == -115
    assert c.more == ["12 1 6 2 127.0.0.1 50312 127.0.0.1 3333"]
    assert p.parse_errors == 0


def test_exec_waits_for_its_argument_line_even_when_other_cpus_interleave() -> None:
    p = LineParser()
    assert p.feed(EXEC) is None
    assert p.feed(OPEN) is not None  # another CPU's event in between
    for line in EXEC_MORE[:-1]:
        assert p.feed(line) is None
    ev = p.feed(EXEC_MORE[-1])
    assert ev is not None and ev.type == "execve" and ev.more[0] == "/usr/bin/cat"
    assert decode_buf(ev.more[2]) == ["cat", "/etc/shadow"]
    r = p.feed(RENAME)
    assert r is None
    r = p.feed("more\t11\t/etc/bar\n")
    assert r is not None and r.args == ["/etc/foo"] and r.more == ["/etc/bar"]


def test_garbage_is_counted_never_raised() -> None:
    p = LineParser()
    for junk in ("openat\t1\t2\n", "openat\tx\t2\t3\t4\t5\t6\t7\t0\t0\tc\t0\t0\t0\t-100\t/a\n", "\x00\xff garbage\n",
                 "more\t999\tnothing pending\n", "more\tnotanumber\tx\n", "execve\t" + "9" * 20000 + "\n",
                 "nosuchtype\t1\t2\t3\t4\t5\t6\t7\t0\t0\tc\t0\n"):
        assert p.feed(junk) is None
    assert p.parse_errors == 7
    # a lost continuation: the next exec of the same thread replaces the pending one, counted
    p.feed(EXEC)
    p.feed(EXEC)
    assert p.parse_errors == 8


def test_noise_and_drops() -> None:
    p = LineParser()
    assert p.feed("Attaching 58 probes...\n") is None
    assert p.feed("ready\n") is None and p.ready
    assert p.feed("Lost 17 events\n") is None
    assert p.stderr_line("Lost 3 events\n") is None
    assert p.stderr_line("ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace.\n") is None
    assert p.stderr_line("ERROR: something real\n") == "ERROR: something real"
    assert p.lost == 20 and p.parse_errors == 0


def test_decode_buf() -> None:
    assert decode_buf("sh\\x00-c\\x00echo a\\x09b\\x00") == ["sh", "-c", "echo a\tb"]
    assert decode_buf("a\\\\x00b\\x00") == ["a\\x00b"]  # an escaped backslash stays a backslash
    assert decode_buf("") == []
    assert decode_buf("trunc") == ["trunc"]  # cut at the size limit: the last argument is partial


def test_names_with_tabs_newlines_and_escapes_keep_their_bytes() -> None:
    """comm comes escaped (%r, NUL padded); a path is the line's last field, so its tabs and newlines are its own."""
    for name, comm in [("cat", "cat\\x00\\x00"), ("a\tb", "a\\x09b\\x00"), ("x\ny", "x\\x0ay\\x00"),
                       ("a\\x00", "a\\\\x00\\x00"), ("é", "\\xc3\\xa9\\x00")]:
        for path in ["/etc/shadow", "/tmp/a\tb/../../etc/shadow", "/tmp/x\nopenat\t1\t2\t3\n", "/t\t\t\\x41\n"]:
            p = LineParser()
            ev = p.feed(OPEN.replace("\tcat\t", f"\t{comm}\t").replace("/etc/shadow\n", path + "\n"))
            assert ev is not None and (ev.comm, ev.args[-1], ev.res) == (name, path, 3)
            p.feed(EXEC)
            for line in EXEC_MORE:
                done = p.feed(line.replace("/usr/bin/cat", path))
            assert done is not None and done.more[0] == path and p.parse_errors == 0


def test_bpftrace_json_records() -> None:
    from containerguard.runtime.sensor.bpftrace import record_line

    assert record_line('{"type": "printf", "data": "openat\\t1\\t/tmp/a\\nexecve\\tb\\n"}\n') == \
        "openat\t1\t/tmp/a\nexecve\tb\n"
    # bpftrace writes a byte >= 0x80 as a sign-extended \uffffffXX
    assert record_line('{"type": "printf", "data": "/tmp/\\uffffffc3\\uffffffa9\\\\\\\\uffffffc3"}') == \
        "/tmp/é\\\\uffffffc3"
    assert record_line('{"type": "lost_events", "data": {"events": 7}}') == "Lost 7 events\n"
    assert record_line('{"type": "attached_probes", "data": {"probes": 3}}') is None
    assert record_line("garbage\n") == "garbage\n"
