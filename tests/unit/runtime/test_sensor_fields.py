"""RawEvent -> Falco fields."""

from __future__ import annotations

from containerguard.runtime.rules.fields import fields_of
from containerguard.runtime.sensor.fields import event_fields, open_flags
from containerguard.runtime.sensor.parse import RawEvent


def _raw(t: str, res: int, args: list[str], more: list[str] | None = None) -> RawEvent:
    return RawEvent(t, 1, 10, 10, 9, 0, 0, 4026532180, 0xA80425FB, 0xA80425FB, "x", res, args, more or [])


#: a socket line as the sensor printed it: inode type 12 (socket), SOCK_STREAM, TCP, AF_INET, local, remote
SOCK_CLIENT = "12 1 6 2 172.17.0.3 41234 1.2.3.4 80"


def test_open_flags_text() -> None:
    assert open_flags(0) == "O_RDONLY"
    assert open_flags(0o1101) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert open_flags(0o2000002) == "O_RDWR|O_CLOEXEC"


def test_open_relative_path_and_write_tracking() -> None:
    f, written = event_fields(_raw("openat", 3, [str(0o1101), "420", "-100", "bin/tool"]), "/opt")
    assert f["fd.name"] == "/opt/bin/tool" and f["fd.directory"] == "/opt/bin" and f["fd.filename"] == "tool"
    assert f["evt.is_open_write"] is True and f["evt.is_open_read"] is False
    assert f["evt.res"] == "SUCCESS" and f["evt.rawres"] == 3
    assert written == "/opt/bin/tool"
    f, written = event_fields(_raw("openat", -2, ["0", "0", "-100", "/etc/shadow"]), "/")
    assert f["evt.res"] == "ENOENT" and f["evt.failed"] is True and f["evt.is_open_read"] is True
    assert written is None


def test_connect_and_socket() -> None:
    f, _ = event_fields(_raw("connect", -111, ["3", "2", "127.0.0.1", "3333"]), "/")
    assert (f["fd.sip"], f["fd.sport"], f["fd.name"], f["fd.typechar"]) == ("127.0.0.1", 3333, "127.0.0.1:3333", "4")
    f, _ = event_fields(_raw("connect", 0, ["3", "10", "::1", "443"]), "/")
    assert f["fd.name"] == "[::1]:443" and f["fd.sockfamily"] == "ip"
    f, _ = event_fields(_raw("connect", 0, ["3", "1", "", "0"]), "/")
    assert f["fd.typechar"] == "u" and "fd.sip" not in f
    f, _ = event_fields(_raw("socket", 4, ["17", "3", "768"]), "/")
    assert f["evt.arg.domain"] == "AF_PACKET" and f["evt.arg.type"] == "SOCK_RAW"


def test_rename_ptrace_memfd() -> None:
    f, written = event_fields(_raw("renameat2", 0, ["/tmp/x"], ["/etc/cron.d/evil"]), "/")
    assert f["fs.path.source"] == "/tmp/x" and f["fs.path.target"] == "/etc/cron.d/evil"
    assert f["fd.name"] == "/etc/cron.d/evil" and written == "/etc/cron.d/evil"
    f, _ = event_fields(_raw("ptrace", 0, ["16", "4242"]), "/")
    assert f["evt.arg.request"] == "PTRACE_ATTACH" and f["evt.arg.pid"] == 4242
    f, _ = event_fields(_raw("memfd_create", 5, ["1", "payload"]), "/")
    assert f["evt.arg.name"] == "payload"


def test_every_emitted_field_is_advertised() -> None:
    samples = [
        _raw("openat", 3, ["1", "0", "-100", "/a"]), _raw("unlinkat", 0, ["-100", "/var/log/x"]),
        _raw("renameat", 0, ["/a"], ["/b"]), _raw("symlinkat", 0, ["/a"], ["/b"]), _raw("fchmodat", 0, ["493", "/a"]),
        _raw("connect", 0, ["3", "2", "1.2.3.4", "80"]), _raw("accept4", 5, ["3", "2", "1.2.3.4", "80"]),
        _raw("bind", 0, ["3", "2", "0.0.0.0", "80"]), _raw("socket", 3, ["2", "1", "0"]), _raw("listen", 0, ["3", "5"]),
        _raw("setuid", 0, ["0"]), _raw("setgid", 0, ["0"]), _raw("ptrace", 0, ["16", "1"]),
        _raw("mount", 0, ["0", "/dev/sda"], ["/mnt", "ext4"]), _raw("memfd_create", 3, ["0", "x"]),
        _raw("bpf", 3, ["5"]), _raw("procexit", 0, []),
        _raw("connect", 0, ["3", "2", "1.2.3.4", "80"], [SOCK_CLIENT]),
        _raw("sendto", 12, ["3", "2", "1.1.1.1", "53"], ["12 2 17 2 10.0.0.5 40000 - 0"]),
        _raw("dup2", 1, ["3", "1"], [SOCK_CLIENT]), _raw("ftruncate", 0, ["0", "3"], ["8 dpkg.log"]),
        _raw("truncate", 0, ["0", "-100", "log"]), _raw("mkdirat", 0, ["493", "-100", "d"]),
        _raw("setns", 0, ["3", "0"], ["0 mnt:[4026531840]"]), _raw("unshare", 0, ["268435456"]),
        _raw("userfaultfd", 3, ["0"]), _raw("fchmod", 0, ["493", "3"], ["8 x"]),
        _raw("recvfrom", 4, ["3", "0", "", "0"], [SOCK_CLIENT, "\\xca\\xfe\\xba\\xbe"]),
    ]
    sensor = fields_of(["sensor"])
    produced: set[str] = set()
    for ev in samples:
        f, _ = event_fields(ev, "/")
        missing = {k for k in f if k not in sensor and not k.startswith("evt.arg.")}
        assert not missing, (ev.type, missing)
        produced |= {"evt.arg" if k.startswith("evt.arg.") else k for k in f}
    # and the catalog claims for the sensor only what it produces
    assert sensor - produced == set()


def test_fd_name_is_normalised_and_nameraw_kept() -> None:
    """Path tricks do not escape fd.name: '..', '.', doubled slashes and relative paths resolve like Falco's."""
    for raw, cwd, want in (("/etc/../etc/shadow", "/", "/etc/shadow"), ("../../etc//./shadow", "/var/www", "/etc/shadow"),
                           ("shadow", "/etc", "/etc/shadow"), ("//etc/shadow", "/", "/etc/shadow"),
                           ("/var/log/../../etc/passwd", "/", "/etc/passwd")):
        f, _ = event_fields(_raw("openat", 3, ["0", "0", "-100", raw]), cwd)
        assert (f["fd.name"], f["fd.nameraw"], f["fd.directory"]) == (want, raw, want.rpartition("/")[0]), raw
    # a directory descriptor other than AT_FDCWD is resolved through the resolver (the agent's fd table / /proc)
    f, _ = event_fields(_raw("openat", 3, ["0", "0", "7", "../shadow"]), "/", lambda fd, name: "/etc/ssl" if fd == 7 else "")
    assert f["fd.name"] == "/etc/shadow"
    f, _ = event_fields(_raw("openat", 3, ["0", "0", "7", "x"]), "/", None)
    assert f["fd.name"] == "x"  # base unknown: stays as given


def test_socket_both_ends_from_the_kernel() -> None:
    f, _ = event_fields(_raw("connect", -115, ["3", "2", "1.2.3.4", "80"], [SOCK_CLIENT]), "/")
    assert (f["fd.cip"], f["fd.cport"], f["fd.sip"], f["fd.sport"]) == ("172.17.0.3", 41234, "1.2.3.4", 80)
    assert (f["fd.lip"], f["fd.rip"], f["fd.l4proto"], f["fd.typechar"]) == ("172.17.0.3", "1.2.3.4", "tcp", "4")
    assert f["fd.name"] == "172.17.0.3:41234->1.2.3.4:80" and f["fd.connected"] is False  # EINPROGRESS: not yet
    f, _ = event_fields(_raw("accept4", 5, ["3", "0", "", "0"], ["12 1 6 10 ::ffff:127.0.0.1 4444 ::ffff:127.0.0.1 60574"]), "/")
    # a dual-stack socket's IPv4 peer reads as IPv4, the accepting process is the server
    assert (f["fd.type"], f["fd.sip"], f["fd.sport"], f["fd.cport"], f["fd.is_server"]) == ("ipv4", "127.0.0.1", 4444, 60574, True)
    f, _ = event_fields(_raw("dup2", 0, ["4", "0"], [SOCK_CLIENT]), "/")
    assert (f["fd.type"], f["evt.rawres"], f["fd.sip"], f["fd.connected"]) == ("ipv4", 0, "1.2.3.4", True)
    f, _ = event_fields(_raw("sendto", 12, ["3", "2", "1.1.1.1", "53"], ["12 2 17 2 10.0.0.5 40000 - 0"]), "/")
    assert (f["fd.l4proto"], f["fd.sip"], f["fd.connected"], f["fd.name_changed"]) == ("udp", "1.1.1.1", False, True)


def test_capabilities_and_files_named_by_descriptor() -> None:
    f, _ = event_fields(_raw("openat", 3, ["1", "0", "-100", "/a"]), "/")
    # 0xa80425fb: Docker's default capability set, as read from a container process's credentials
    assert f["thread.cap_effective"] == ("CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID "
                                         "CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD "
                                         "CAP_AUDIT_WRITE CAP_SETFCAP")
    f, _ = event_fields(_raw("ftruncate", 0, ["0", "3"], ["8 dpkg.log"]), "/", lambda fd, name: "/var/log/dpkg.log")
    assert (f["fd.name"], f["evt.arg.length"]) == ("/var/log/dpkg.log", 0)
    f, _ = event_fields(_raw("ftruncate", 0, ["0", "3"], ["8 dpkg.log"]), "/")
    assert f["fd.name"] == "dpkg.log"  # only the kernel's dentry name when the process is gone
    f, _ = event_fields(_raw("unshare", 0, ["268435456"]), "/")
    assert f["evt.arg.flags"] == "CLONE_NEWUSER"


def test_exec_info_from_the_kernel_lines() -> None:
    from containerguard.runtime.sensor.fields import exec_info

    ev = _raw("execve", 0, ["-1", "0", "1590912", "1796134188465701561", "1663687647000000000", "0", "14615", "14615",
                            "12", "12", "1", "117"],
              ["/proc/self/fd/3", "memfd:payload", "x\\x00-c\\x00id\\x00", "A=1\\x00B=two=2\\x00", "12 1 6 2 127.0.0.1 4444 127.0.0.1 60574"])
    x = exec_info(ev)
    assert x.from_memfd and x.exe_name == "memfd:payload" and x.exe_nlink == 0 and x.exe_ino == 1590912
    assert x.argv == ["x", "-c", "id"] and x.env == {"A": "1", "B": "two=2"} and not x.env_truncated
    assert [s.fd_type for s in x.stdio] == ["ipv4", "ipv4", "pipe"]


def test_kubelet_labels_give_k8s_fields_and_start_time() -> None:
    from containerguard.runtime.containers import info_from_inspect

    info = info_from_inspect({
        "Id": "b" * 64, "Name": "/k8s_web_shop-1_prod_uid1_0",
        "Config": {"Image": "shop/web:1", "Labels": {
            "io.kubernetes.pod.name": "shop-1", "io.kubernetes.pod.namespace": "prod",
            "io.kubernetes.pod.uid": "uid1", "io.kubernetes.sandbox.id": "c" * 64,
            "io.kubernetes.container.name": "web"}},
        "State": {"Status": "running", "StartedAt": "2026-12-01T14:20:01.123456789Z"}})
    f = info.fields()
    assert (f["k8s.pod.name"], f["k8s.ns.name"], f["k8s.pod.uid"], f["k8s.pod.sandbox_id"]) == \
        ("shop-1", "prod", "uid1", "c" * 12)
    assert f["container.start_ts"] == 1796134801123456789
    plain = info_from_inspect({"Id": "d" * 64, "Name": "/x", "Config": {"Image": "a"}, "State": {}}).fields()
    assert plain["k8s.pod.name"] is None and plain["container.start_ts"] is None
    from containerguard.runtime.containers import user_pod_labels

    assert user_pod_labels({"app": "shop", "io.kubernetes.pod.name": "x", "annotation.kubernetes.io/x": "y"}) == \
        {"app": "shop"}


def test_the_data_buffer_is_decoded_and_printed_as_falco_does() -> None:
    from containerguard.runtime.rules.ruleset import printable

    ev = _raw("recvfrom", 9, ["3", "0", "", "0"], [SOCK_CLIENT, "\\xca\\xfe\\xba\\xbeGET /\\x0d\\x0a"])
    f, _ = event_fields(ev, "/")
    assert f["evt.buffer"] == b"\xca\xfe\xba\xbeGET /\r\n" and f["evt.buflen"] == 9
    assert printable(f["evt.buffer"]) == "....GET /.."
    # not captured (no rule reads evt.buffer): the sensor prints an empty line, the field stays <NA>
    f, _ = event_fields(_raw("recvfrom", 9, ["3", "0", "", "0"], [SOCK_CLIENT, ""]), "/")
    assert "evt.buffer" not in f
