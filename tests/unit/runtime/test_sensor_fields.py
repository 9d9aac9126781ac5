"""RawEvent -> Falco fields."""

from __future__ import annotations

from containerguard.runtime.rules.fields import fields_of
from containerguard.runtime.sensor.fields import event_fields, open_flags
from containerguard.runtime.sensor.parse import RawEvent


def _raw(t: str, res: int, args: list[str], more: list[str] | None = None) -> RawEvent:
    return RawEvent(t, 1, 10, 10, 9, 0, 0, 4026532180, "x", res, args, more or [])


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
