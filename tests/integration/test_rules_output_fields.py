"""`containerguard rules replay`: alert ``output_fields`` are keyed like Falco's, by each field's spelling in
the rule's output format (``%evt.arg.flags`` -> ``"evt.arg.flags"``, ``%evt.arg[type]`` -> ``"evt.arg[type]"``),
so consumers written for Falco's JSON output read ContainerGuard's unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerguard.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"


def test_output_fields_keyed_as_written_in_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["rules", "replay", "-e", str(DATA / "events" / "default_positive.jsonl")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    writes = [d for d in docs if d["rule_id"] == "CG-R011"]  # output: "... flags=%evt.arg.flags ..."
    assert writes
    for d in writes:
        assert "evt.arg[flags]" not in d["output_fields"]
        assert "O_WRONLY" in d["output_fields"]["evt.arg.flags"]
        assert f"flags={d['output_fields']['evt.arg.flags']}" in d["output"]
    mount = next(d for d in docs if d["rule_id"] == "CG-R034")
    assert {k for k in mount["output_fields"] if k.startswith("evt.arg")} == {"evt.arg.dev", "evt.arg.dir",
                                                                               "evt.arg.type"}

    # a user rule that writes both spellings gets both keys, each as written
    rules = tmp_path / "both.yaml"
    rules.write_text(
        "- rule: Both spellings\n"
        "  desc: evt.arg.NAME and evt.arg[NAME] in one output\n"
        "  condition: evt.type in (open, openat) and evt.arg.flags contains O_WRONLY\n"
        "  output: dotted=%evt.arg.flags bracket=%evt.arg[flags] file=%fd.name\n"
        "  priority: WARNING\n")
    rc = main(["rules", "replay", "--rules", str(rules), "-e", str(DATA / "events" / "default_positive.jsonl")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    first = json.loads(out.splitlines()[0])
    assert set(first["output_fields"]) == {"evt.arg.flags", "evt.arg[flags]", "fd.name"}
    assert first["output_fields"]["evt.arg.flags"] == first["output_fields"]["evt.arg[flags]"]
