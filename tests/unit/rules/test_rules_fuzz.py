"""Hostile input never escapes as anything but the documented errors."""

from __future__ import annotations

import contextlib
import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containerguard.errors import RuleError
from containerguard.model import Event
from containerguard.runtime.events import EventFormatError, iter_events
from containerguard.runtime.rules import load_rules
from containerguard.runtime.rules.parser import ConditionError, parse_condition

TOKENS = ["proc.name", "fd.name", "evt.type", "proc.aname[2]", "jevt.value[/a]", "and", "or", "not", "(", ")",
          "=", "!=", "in", "contains", "glob", "regex", "exists", "pmatch", "val(proc.pname)", "tolower(",
          "'x y'", '"q', "bash", "/etc", ",", "[", "]", "3", "-1", "macro_x", "intersects", ">=", "<"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14))
def test_parser_raises_only_condition_errors(tokens):
    with contextlib.suppress(ConditionError):
        parse_condition(" ".join(tokens), {"l": ("a",)})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=80))
def test_parser_random_text(text):
    with contextlib.suppress(ConditionError):
        parse_condition(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10), st.dictionaries(
    st.sampled_from(["proc.name", "fd.name", "proc.anames", "proc.pname", "jevt"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=3),
              st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)), max_size=4))
def test_loaded_rules_evaluate_any_event_without_raising(tmp_path, tokens, fields):
    cond = "evt.type = execve and (" + " ".join(tokens) + ")"
    p = tmp_path / "r.yaml"
    p.write_text("- rule: R\n  desc: d\n  condition: " + json.dumps(cond)  # a JSON string is a YAML scalar
                 + "\n  output: '%proc.name %proc.aname[1]'\n  priority: INFO\n")
    try:
        rs = load_rules([p])
    except RuleError:
        return
    rs.evaluate(Event("execve", 1, fields))  # errors are counted, never raised


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=6))
def test_event_reader_raises_only_format_errors(lines):
    import io

    data = b"\n".join(lines)
    with contextlib.suppress(EventFormatError):
        list(iter_events(io.BytesIO(data), "fuzz", max_line_bytes=40))
