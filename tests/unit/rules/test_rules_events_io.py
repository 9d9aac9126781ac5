"""The JSON-lines event format: round trip, and garbage/oversized lines give file:line errors or counted skips."""

from __future__ import annotations

import io
import json

import pytest

from containerguard.model import Event
from containerguard.runtime.events import EventFormatError, ReadStats, read_events, write_event


def test_round_trip_including_bytes(tmp_path):
    events = [
        Event("openat", 1732712345000000001, {"fd.name": "/etc/shadow", "proc.anames": ["bash", "sshd"],
                                              "proc.env": {"HOME": "/root"}, "user.uid": 0, "evt.is_open_read": True}),
        Event("write", 2, {"evt.buffer": b"\x7fELF\x00\xff"}),
        Event("k8s_audit", 3, {"ka.verb": "get", "jevt": {"verb": "get"}}, source="k8s_audit"),
    ]
    p = tmp_path / "e.jsonl"
    with p.open("w") as fh:
        for ev in events:
            write_event(fh, ev)
    assert len(p.read_text().splitlines()) == 3
    assert list(read_events(p)) == events


def _file(tmp_path, lines: list[bytes]):
    p = tmp_path / "events.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


GOOD = json.dumps({"type": "execve", "time_ns": 5, "fields": {"proc.name": "sh"}}).encode()


@pytest.mark.parametrize(("bad", "reason"), [
    (b"this is not json", "not JSON (Expecting value at column 1)"),
    (b'{"type": "execve", "time_ns": 5, "fields": {"a": 1}', "not JSON"),
    (b"[1, 2]", "an event must be a JSON object, got list"),
    (b'{"time_ns": 5}', "'type' must be a non-empty string"),
    (b'{"type": "execve", "time_ns": -1}', "'time_ns' must be a non-negative integer"),
    (b'{"type": "execve", "time_ns": "soon"}', "'time_ns' must be a non-negative integer"),
    (b'{"type": "execve", "time_ns": 1, "source": "aws"}', "unknown source 'aws'"),
    (b'{"type": "execve", "time_ns": 1, "fields": [1]}', "'fields' must be a JSON object"),
    (b'{"type": "write", "time_ns": 1, "fields": {"evt.buffer": {"$bytes": "!!"}}}', "bad base64"),
    (b"\xff\xfe\x00garbage", "line is not UTF-8 text"),
    (b"[" * 100_000, "not JSON"),
])
def test_garbage_lines_name_file_and_line(tmp_path, bad, reason):
    p = _file(tmp_path, [GOOD, b"", bad, GOOD])
    with pytest.raises(EventFormatError) as ei:
        list(read_events(p))
    assert ei.value.line == 3 and ei.value.file == str(p)
    assert str(ei.value).startswith(f"{p}:3: ")
    assert reason in str(ei.value)
    stats = ReadStats()
    assert len(list(read_events(p, strict=False, stats=stats))) == 2
    assert stats.skipped == 1 and stats.read == 2 and stats.errors[0].startswith(f"{p}:3: ")


def test_oversized_line_is_skipped_without_loading_it(tmp_path):
    huge = b'{"type": "execve", "time_ns": 1, "fields": {"proc.cmdline": "' + b"A" * 3_000_000 + b'"}}'
    p = _file(tmp_path, [GOOD, huge, GOOD])
    with pytest.raises(EventFormatError, match=r":2: event line longer than 1048576 bytes"):
        list(read_events(p))
    stats = ReadStats()
    got = list(read_events(p, strict=False, stats=stats))
    assert len(got) == 2 and stats.skipped == 1


def test_missing_file_is_a_clear_error(tmp_path):
    from containerguard.errors import ContainerGuardError

    with pytest.raises(ContainerGuardError, match="cannot read events"):
        list(read_events(tmp_path / "nope.jsonl"))


def test_write_event_one_line_per_event():
    buf = io.StringIO()
    write_event(buf, Event("execve", 7, {"proc.cmdline": "a\nb"}))
    assert buf.getvalue().count("\n") == 1
