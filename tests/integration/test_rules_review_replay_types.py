"""Recorded events whose fields have the wrong JSON type, through `containerguard rules replay` (review of issue 4).

A field that cannot be read as its catalog type is evaluated as not supplied (Falco's <NA>), counted and named in one
warning line; the event's other fields and rules still work. A value that is its type written another way (a number
as a decimal string, a boolean as "true", a number where text belongs) is read as that type.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main

RULES = """
- rule: not bash
  condition: evt.type=execve and proc.name != bash
  output: "name=%proc.name pid=%proc.pid"
  priority: WARNING
- rule: pid twelve
  condition: evt.type=execve and proc.pid = 12
  output: "pid=%proc.pid name=%proc.name"
  priority: NOTICE
- rule: parent letter
  condition: evt.type=execve and proc.aname in (b, a, s, h)
  output: "anc=%proc.aname[1]"
  priority: NOTICE
- rule: ancestors all shells
  condition: evt.type=execve and proc.apid in (1, 2)
  output: "apids"
  priority: NOTICE
- rule: privileged
  condition: evt.type=container and container.privileged = true
  output: "priv %container.id"
  priority: CRITICAL
- rule: numeric name
  condition: evt.type=execve and proc.name = 123
  output: "numeric %proc.name"
  priority: NOTICE
- rule: cmdline has nc
  condition: evt.type=execve and proc.cmdline contains nc
  output: "nc %proc.cmdline"
  priority: NOTICE
- rule: home
  condition: evt.type=execve and proc.env[HOME] = /root
  output: "home"
  priority: NOTICE
"""


def _replay(tmp_path: Path, capsys, events: list[dict], *extra: str) -> tuple[int, list[dict], str]:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    ev = tmp_path / "e.jsonl"
    ev.write_text("".join(json.dumps({"type": e.pop("type", "execve"), "time_ns": 1, "fields": e}) + "\n"
                          for e in events))
    rc = main(["rules", "replay", "-r", str(rules), "-e", str(ev), *extra])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines()], err


def _fired(docs: list[dict]) -> list[str]:
    return [d["rule"] for d in docs]


@pytest.mark.parametrize("bad", [["bash"], {"n": "bash"}, True])
def test_a_string_field_of_another_type_is_not_supplied(tmp_path: Path, capsys, bad: object) -> None:
    rc, docs, err = _replay(tmp_path, capsys, [{"proc.name": bad, "proc.pid": 12}])
    assert rc == 0
    # `proc.name != bash` must not fire on a name it cannot read; the pid rule on the same event still does
    assert _fired(docs) == ["pid twelve"]
    assert docs[0]["output_fields"] == {"proc.pid": 12, "proc.name": None}
    assert docs[0]["output"].endswith("pid=12 name=<NA>")
    assert "e.jsonl:1: field 'proc.name' must be a string" in err and "evaluated as <NA>" in err
    assert "warning: 1 field of the wrong type evaluated as <NA>" in err


@pytest.mark.parametrize(("pid", "fires"), [("12", True), (" 12 ", True), ("012", True), ("0x0c", False),
                                            ("twelve", False), (12.0, False), (True, False), ([12], False)])
def test_numbers_as_strings(tmp_path: Path, capsys, pid: object, fires: bool) -> None:
    rc, docs, err = _replay(tmp_path, capsys, [{"proc.name": "bash", "proc.pid": pid}])
    assert rc == 0
    assert _fired(docs) == (["pid twelve"] if fires else [])
    if fires:
        assert docs[0]["output_fields"]["proc.pid"] == 12
        assert "warning" not in err
    else:
        assert "field 'proc.pid' must be an integer" in err


def test_lists_bools_dicts_of_the_wrong_type(tmp_path: Path, capsys) -> None:
    rc, docs, err = _replay(tmp_path, capsys, [
        {"proc.name": "bash", "proc.anames": "bash"},  # a string where the ancestors' list belongs: not 4 letters
        {"proc.name": "bash", "proc.anames": ["sh", {"x": 1}]},
        {"proc.name": "bash", "proc.apids": ["1", 2]},  # numbers as strings inside an integer list
        {"proc.name": "bash", "proc.apids": "1"},
        {"type": "container", "container.privileged": "true", "container.id": 1234},
        {"type": "container", "container.privileged": "yes", "container.id": "c2"},
        {"proc.name": 123},
        {"proc.name": "bash", "proc.cmdline": ["nc"]},
        {"proc.name": "bash", "proc.env": ["HOME=/root"]},
        {"proc.name": "bash", "proc.env": {"HOME": "/root"}},
    ])
    assert rc == 0
    assert _fired(docs) == ["ancestors all shells", "privileged", "not bash", "numeric name", "home"]
    assert docs[1]["output"].endswith("priv 1234")
    for f, t in (("proc.anames", "a list of strings"), ("proc.apids", "a list of integers"),
                 ("container.privileged", "true or false"), ("proc.cmdline", "a string"), ("proc.env", "an object")):
        assert f"field '{f}' must be {t}" in err, (f, err)
    assert "warning: 6 fields of the wrong type evaluated as <NA>" in err


def test_strict_stops_at_a_field_of_the_wrong_type(tmp_path: Path, capsys) -> None:
    rc, docs, err = _replay(tmp_path, capsys, [{"proc.name": "bash", "proc.pid": 12}, {"proc.name": ["x"]}],
                            "--strict")
    assert rc == 2
    assert _fired(docs) == ["pid twelve"]
    assert err.strip().endswith("e.jsonl:2: field 'proc.name' must be a string, got an array")


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_event_times_out_of_range_are_malformed_lines(tmp_path: Path, capsys, fmt: str) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    ev = tmp_path / "e.jsonl"
    lines = [{"type": "execve", "time_ns": t, "fields": {"proc.name": "sh", "proc.pid": 12}}
             for t in (10**30, 2**64, 2**64 - 1, 0)]
    ev.write_text("".join(json.dumps(x) + "\n" for x in lines))
    rc = main(["rules", "replay", "-r", str(rules), "-e", str(ev), "-f", fmt])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "e.jsonl:1: 'time_ns' must be" in err and "e.jsonl:2: 'time_ns' must be" in err
    assert "warning: 2 malformed event lines skipped" in err
    if fmt == "json":
        docs = [json.loads(x) for x in out.splitlines()]
        assert [d["time"] for d in docs if d["rule"] == "pid twelve"] == ["2554-07-21T23:34:33.709551615Z",
                                                                           "1970-01-01T00:00:00.000000000Z"]
    else:
        assert "alerts from 2 events" in out


def test_names_that_are_not_utf8_print_in_both_formats(tmp_path: Path, capsys) -> None:
    # a lone surrogate (an undecodable byte of a file or process name, as the sensor keeps it) must not end the replay
    rc, docs, err = _replay(tmp_path, capsys, [{"proc.name": "sh\udcff", "proc.pid": 12, "proc.cmdline": "\ud800x"}])
    assert rc == 0, err
    assert docs[0]["output_fields"]["proc.name"] == "sh\udcff"
    rules = tmp_path / "r.yaml"
    rc = main(["rules", "replay", "-r", str(rules), "-e", str(tmp_path / "e.jsonl"), "-f", "table"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "sh\\udcff" in out or "sh\\xff" in out, out
