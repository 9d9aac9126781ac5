"""Text a rules file or a recording chose (rule and macro names, condition tokens, file names, field values) never
reaches the terminal as a control sequence through `containerguard rules validate|replay` (review of issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main

#: OSC title change + BEL, a screen clear, a bidi override, a line break that would fake another output line
HOSTILE = ["\x1b]0;owned\x07", "\x1b[2J", "\u202e", "\nF: Ok (0 rules)", "\x9b31m"]
_RAW = ("\x1b", "\x07", "\u202e", "\x9b")


def _yaml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def _assert_clean(text: str) -> None:
    assert not any(c in text for c in _RAW), text
    assert "\nF: Ok" not in text


@pytest.mark.parametrize("bad", HOSTILE)
def test_validate_warnings_and_errors_show_control_characters_escaped(tmp_path: Path, capsys, bad: str) -> None:
    name = _yaml_str(f"r{bad}x")
    warn = tmp_path / "warn.yaml"
    warn.write_text(f"- rule: {name}\n  condition: evt.type=open and nosuch.field=1\n  output: o\n"
                    f"  priority: WARNING\n  bogus{len(bad)}: 1\n  {_yaml_str('k' + bad)}: 1\n")
    rc = main(["rules", "validate", str(warn)])
    out, err = capsys.readouterr()
    assert rc == 0
    _assert_clean(out + err)
    assert err.count("\n") == 3  # two unknown keys, rule disabled: one line each
    assert "Ok (1 rules" in out

    # an error whose message quotes the rules file: a rule name, a token of the condition
    for body in (f"- rule: {name}\n  condition: evt.type=open and proc.pid startswith 1\n  output: o\n"
                 "  priority: WARNING\n",
                 f"- rule: r\n  condition: {_yaml_str('evt.type=open and proc.name in (a ' + bad + ')')}\n"
                 "  output: o\n  priority: WARNING\n"):
        bad_file = tmp_path / "bad.yaml"
        bad_file.write_text(body)
        rc = main(["rules", "validate", str(bad_file)])
        out, err = capsys.readouterr()
        assert rc == 1
        _assert_clean(out + err)
        assert err.count("\n") == 1 and err.startswith(f"error: {bad_file}:"), err


def test_validate_hostile_file_name(tmp_path: Path, capsys) -> None:
    d = tmp_path / "d\x1b]0;t\x07\u202e"
    d.mkdir()
    f = d / "r.yaml"
    f.write_text("- rule: r\n  condition: evt.type=open and proc.name=a\n  output: o\n  priority: WARNING\n"
                 "- macro: unused\n  condition: proc.name=b\n")
    rc = main(["rules", "validate", str(f)])
    out, err = capsys.readouterr()
    assert rc == 0
    _assert_clean(out + err)
    assert "d\\x1b]0;t\\x07\\u202e" in out and "d\\x1b]0;t\\x07\\u202e" in err


def test_replay_warnings_escape_rule_names_and_event_text(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(f"- rule: {_yaml_str('pid rule ' + ''.join(HOSTILE))}\n"
                     "  condition: evt.type=execve and proc.pid > 1\n  output: o %proc.name\n  priority: WARNING\n")
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join([
        json.dumps({"type": "execve", "fields": {"proc.pid": "12", "proc.name": "\x1b[2J\u202e"}}),
        json.dumps({"type": "execve", "source": "\x1b]0;x\x07"}),
        json.dumps({"type": "\x1b]0;x\x07", "time_ns": -1}),
    ]) + "\n")
    for fmt in ("json", "table"):
        rc = main(["rules", "replay", "-r", str(rules), "-e", str(events), "-f", fmt])
        out, err = capsys.readouterr()
        assert rc == 0
        _assert_clean(out + err)
        assert "warning: 2 malformed event lines skipped" in err
