"""evt.args in Falco's layout (runtime/sensor/args.py): the exit event's parameters, named and formatted as Falco
prints them, from what the sensor decoded."""

from __future__ import annotations

import pytest

from containerguard.runtime.sensor.args import falco_args, ppm_open_flags
from containerguard.runtime.sensor.fields import event_fields
from containerguard.runtime.sensor.parse import RawEvent

SOCK = "12 1 6 2 172.17.0.2 45678 10.0.0.1 443"


def _raw(t: str, res: int, args: list[str], more: list[str] | None = None) -> RawEvent:
    return RawEvent(t, 1, 10, 11, 9, 0, 0, 4026532180, 0, 0, "x", res, args, more or [])


@pytest.mark.parametrize(("ev", "want"), [
    (_raw("openat", 3, ["524288", "0", "-100", "/etc/shadow"]),
     "fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=/etc/shadow flags=4097(O_RDONLY|O_CLOEXEC) mode=0"),
    (_raw("openat", -2, ["577", "420", "-100", "app.log"]),
     "fd=-2(ENOENT) dirfd=-100(AT_FDCWD) name=app.log(/srv/app.log) flags=262(O_WRONLY|O_CREAT|O_TRUNC) mode=0644"),
    (_raw("open", 4, ["2", "0", "-100", "/etc/passwd"]),
     "fd=4(<f>/etc/passwd) name=/etc/passwd flags=3(O_RDWR) mode=0"),
    (_raw("connect", 0, ["3", "2", "10.0.0.1", "443"], [SOCK]),
     "res=0 tuple=172.17.0.2:45678->10.0.0.1:443 fd=3(<4t>172.17.0.2:45678->10.0.0.1:443)"),
    (_raw("connect", -111, ["3", "2", "127.0.0.1", "443"], ["12 1 6 2 0.0.0.0 0 - 0"]),
     "res=-111(ECONNREFUSED) tuple=0.0.0.0:0->127.0.0.1:443 fd=3(<4t>0.0.0.0:0->127.0.0.1:443)"),
    (_raw("unlinkat", 0, ["-100", "/var/log/x"]), "res=0 dirfd=-100(AT_FDCWD) name=/var/log/x"),
    (_raw("mkdirat", 0, ["493", "-100", "d"]), "res=0 dirfd=-100(AT_FDCWD) path=d(/srv/d) mode=0755"),
    (_raw("renameat2", 0, ["/a"], ["/b"]), "res=0 oldpath=/a newpath=/b"),
    (_raw("symlinkat", 0, ["/etc/shadow"], ["/tmp/s"]), "res=0 target=/etc/shadow linkpath=/tmp/s"),
    (_raw("socket", 3, ["17", "3", "768"]), "fd=3 domain=17(AF_PACKET) type=3 proto=768"),
    (_raw("dup2", 1, ["3", "1"], [SOCK]), "res=1(<4t>172.17.0.2:45678->10.0.0.1:443) oldfd=3 newfd=1"),
    (_raw("ftruncate", 0, ["0", "3"], ["8 dpkg.log"]), "res=0 fd=3(<f>dpkg.log) length=0"),
    (_raw("setuid", -1, ["0"]), "res=-1(EPERM) uid=0"),
    (_raw("recvfrom", 4, ["3", "0", "", "0"], [SOCK, "\\xca\\xfe\\xba\\xbe"]),
     "res=4 data=.... fd=3(<4t>172.17.0.2:45678->10.0.0.1:443) tuple=172.17.0.2:45678->10.0.0.1:443"),
])
def test_args_are_rendered_as_falco_renders_them(ev: RawEvent, want: str) -> None:
    f, _ = event_fields(ev, "/srv", lambda fd, name: "")
    assert falco_args(ev, f) == want


def test_open_flags_use_falcos_encoding() -> None:
    assert ppm_open_flags(0) == "1(O_RDONLY)"
    assert ppm_open_flags(0o1 | 0o100 | 0o1000 | 0o2000000) == "4358(O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC)"


def test_a_malformed_event_falls_back_to_the_decoded_arguments() -> None:
    ev = _raw("mkdir", 0, ["x", "-100", "d"])  # a mode that is not a number
    assert falco_args(ev, {"evt.arg.path": "/d"}) == "path=/d"
