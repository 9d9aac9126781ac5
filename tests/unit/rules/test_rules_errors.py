"""Malformed rules: every hard error names the file, the line and the reason."""

from __future__ import annotations

import time

import pytest

from containerguard.errors import RuleError
from containerguard.model import Event
from containerguard.runtime.rules import load_rules


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("bad_yaml.yaml", 5, "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at line 4)"),
    ("unclosed_paren.yaml", 3, "rule 'Unclosed paren': unclosed '(' (opened here) (column 23 of the condition)"),
    ("cyclic_macros.yaml", 1, "macro 'a' is cyclic: a -> b -> c -> a"),
    ("undefined_macro.yaml", 1, "rule 'Undefined macro': undefined macro 'not_a_macro'"),
    ("bad_override.yaml", 9, "rule 'Base': key 'priority' is not listed under 'override'"),
    ("append_undefined.yaml", 1, "rule 'Never defined': append of a rule that has not been defined"),
])
def test_bad_files(rules_dir, name, line, reason):
    path = rules_dir / "bad" / name
    with pytest.raises(RuleError) as ei:
        load_rules([path])
    assert ei.value.file == str(path)
    assert ei.value.line == line
    assert str(ei.value) == f"{path}:{line}: {reason}"


def test_backtracking_regex_is_rejected(rules_dir):
    path = rules_dir / "bad" / "catastrophic_regex.yaml"
    with pytest.raises(RuleError) as ei:
        load_rules([path])
    assert ei.value.line == 3
    assert "invalid or unsupported regular expression" in str(ei.value)
    assert "no backreferences" in str(ei.value)


def test_nested_quantifiers_run_in_linear_time(write_rules):
    """(a+)+$ takes exponential time with a backtracking engine; RE2 answers at once."""
    p = write_rules("""
- rule: Nested quantifiers
  desc: x
  condition: evt.type = execve and proc.cmdline regex "(a+)+$"
  output: "%proc.cmdline"
  priority: WARNING
""")
    rs = load_rules([p])
    hostile = Event("execve", 1, {"proc.cmdline": "a" * 50_000 + "!"})
    t = time.perf_counter()
    assert rs.evaluate(hostile) == []
    assert time.perf_counter() - t < 0.5
    assert [a.rule for a in rs.evaluate(Event("execve", 1, {"proc.cmdline": "aaaa"}))] == ["Nested quantifiers"]


RULE = """
- rule: R
  desc: d
  condition: {cond}
  output: "{out}"
  priority: {prio}
"""


@pytest.mark.parametrize(("cond", "out", "prio", "message"), [
    ("evt.type = execve and (proc.name = a", "x", "WARNING", "unclosed '(' (opened here)"),
    ("evt.type = execve and proc.name = a)", "x", "WARNING", "unbalanced ')'"),
    ("evt.type = execve and proc.name =", "x", "WARNING", "expected a value, got end of condition"),
    ("evt.type = execve and proc.name = 'abc", "x", "WARNING", "unterminated string"),
    ("evt.type = execve and", "x", "WARNING", "unexpected end of condition"),
    ("evt.type = execve and proc.pid contains 3", "x", "WARNING", "operator 'contains' needs a string field"),
    ("evt.type = execve and proc.name > 3", "x", "WARNING", "operator '>' needs a numeric field"),
    ("evt.type = execve and proc.pid = abc", "x", "WARNING", "expected a number, got 'abc'"),
    ("evt.type = execve and container.privileged = yes", "x", "WARNING", "expected true or false, got 'yes'"),
    ("evt.type = write and evt.buffer bcontains zz", "x", "WARNING", "'bcontains' needs hex bytes"),
    ("evt.type = execve and proc.aname[x] = a", "x", "WARNING", "proc.aname[x]: the argument must be a number"),
    ("evt.type = execve", "x", "LOUD", "unknown priority 'LOUD'"),
    ("evt.type = execve and ka.verb = get", "x", "WARNING",
     "field 'ka.verb' belongs to source k8s_audit, the rule's source is syscall"),
    ("evt.type = execve and proc.name = a and proc.name regex '(?=x)'", "x", "WARNING",
     "invalid or unsupported regular expression"),
    ("evt.type = execve and proc.name startswith val(proc.aname)", "x", "WARNING", "val(proc.aname) is multi-valued"),
])
def test_condition_errors(write_rules, cond, out, prio, message):
    p = write_rules(RULE.format(cond=cond, out=out, prio=prio))
    with pytest.raises(RuleError) as ei:
        load_rules([p])
    assert str(ei.value).startswith(f"{p}:")
    assert ei.value.line in (2, 4, 5, 6)
    assert message in str(ei.value)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  priority: WARNING\n", 1, "missing required key 'output'"),
    ("rule: R\n", 1, "a rules file must be a YAML list"),
    ("- 42\n", 1, "item 1 is not a mapping"),
    ("- list: a\n  items: [b]\n- list: b\n  items: [a]\n", 1, "list 'a' refers to itself: a -> b -> a"),
    ("- macro: m\n  condition: m\n- rule: R\n  desc: d\n  condition: evt.type = execve and m\n  output: x\n  priority: INFO\n",
     1, "macro 'm' is cyclic: m -> m"),
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n"
     "  containerguard.actions: [nuke_host]\n", 6, "unknown action 'nuke_host'"),
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      fields: [proc.name, proc.pname]\n      values: [[a]]\n", 7, "each value must be a list of 2 items"),
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      fields: [proc.name]\n      comps: [likes]\n      values: [[a]]\n", 7, "unknown comparison operator 'likes'"),
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n  containerguard.id: X1\n"
     "- rule: S\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n  containerguard.id: X1\n",
     7, "containerguard.id X1 is already used by rule 'R'"),
    ("- macro: m\n  condition: proc.name = a\n  override:\n    condition: prepend\n", 3,
     "override mode for 'condition' must be append or replace"),
    ("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n  enabled: maybe\n", 6,
     "'enabled' must be true or false"),
])
def test_structure_errors(write_rules, text, line, message):
    p = write_rules(text)
    with pytest.raises(RuleError) as ei:
        load_rules([p])
    assert ei.value.line == line
    assert message in str(ei.value)


def test_error_in_an_appended_condition_points_at_the_appending_file(write_rules, tmp_path):
    base = write_rules("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n  priority: INFO\n", "base.yaml")
    local = write_rules("- rule: R\n  condition: and (proc.name = a\n  override:\n    condition: append\n", "local.yaml")
    with pytest.raises(RuleError) as ei:
        load_rules([base, local])
    assert ei.value.file == str(local) and ei.value.line == 2


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(RuleError, match="cannot read"):
        load_rules([tmp_path / "missing.yaml"])
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"- list: a\n  items: [\xe9]\n")
    with pytest.raises(RuleError, match="not UTF-8"):
        load_rules([p])


def test_unknown_item_and_key_are_warnings(write_rules):
    p = write_rules("- frobnicate: yes\n- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: x\n"
                    "  priority: INFO\n  colour: blue\n")
    rs = load_rules([p])
    assert rs.warnings == [f"{p}:1: unknown item with keys frobnicate ignored",
                           f"{p}:7: rule 'R': unknown key 'colour' ignored"]


def test_deep_nesting_is_an_error_not_a_crash(write_rules):
    deep = "evt.type = execve and " + "(" * 500 + "proc.name = a" + ")" * 500
    p = write_rules(RULE.format(cond=deep, out="x", prio="INFO"))
    with pytest.raises(RuleError, match="nested too deeply"):
        load_rules([p])
    nots = "evt.type = execve and " + "not " * 2000 + "proc.name = a"
    p = write_rules(RULE.format(cond=nots, out="x", prio="INFO"))
    with pytest.raises(RuleError, match="nested too deeply"):
        load_rules([p])


def test_deep_macro_chains_are_an_error_not_a_crash(write_rules):
    # each macro wraps the next in parentheses: fine for the parser, too deep once expanded
    items = [f"- macro: m{i}\n  condition: (proc.name = a or (m{i + 1}))\n" for i in range(300)]
    items.append("- macro: m300\n  condition: proc.name = b\n")
    items.append("- rule: R\n  desc: d\n  condition: evt.type = execve and m0\n  output: x\n  priority: INFO\n")
    p = write_rules("".join(items))
    with pytest.raises(RuleError, match=r"too deeply nested|nested too deeply"):
        load_rules([p])


def test_unused_macros_and_lists_warn_and_are_still_checked(write_rules):
    p = write_rules("- list: lonely\n  items: [a]\n- list: used_by_list\n  items: [b]\n- list: outer\n  items: [used_by_list]\n"
                    "- macro: idle\n  condition: proc.name = x\n"
                    "- rule: R\n  desc: d\n  condition: evt.type = execve and proc.name in (outer)\n  output: x\n"
                    "  priority: INFO\n")
    rs = load_rules([p])
    assert rs.warnings == [f"{p}:7: macro 'idle' is not used by any rule",
                           f"{p}:1: list 'lonely' is not used by any rule or macro"]
    bad = write_rules("- macro: idle\n  condition: proc.nope = x\n", "bad.yaml")
    assert any("unknown field 'proc.nope'" in w for w in load_rules([bad]).warnings)


def test_unknown_operator_disables_only_its_rule(rules_dir):
    path = rules_dir / "bad" / "unknown_operator.yaml"
    rs = load_rules([path])
    assert f"{path}:3: rule 'Unknown operator' disabled: unknown operator 'likes' (column 33 of the condition)" \
        in rs.warnings
    assert [r.disabled_reason for r in rs.rules if r.name == "Unknown operator"] == ["unknown operator 'likes'"]


def test_unknown_fields_disable_only_their_rule(rules_dir, write_rules):
    """A field this engine does not know (a file written for a newer Falco, or a typo) disables the rule using it with
    a warning naming the place; the other rules load and run. In an output it prints as <NA>, as Falco does."""
    path = rules_dir / "bad" / "unknown_field.yaml"
    rs = load_rules([path])
    assert f"{path}:6: rule 'Unknown field' disabled: unknown field 'proc.nme' (column 21 of the condition)" \
        in rs.warnings
    (rule,) = [r for r in rs.rules if r.name == "Unknown field"]
    assert not rule.enabled and rule.disabled_reason == "unknown field 'proc.nme'" and rule.missing == ("proc.nme",)
    p = write_rules(RULE.format(cond="evt.type = execve and proc.name = a", out="x=%proc.nope y=%proc.name",
                                prio="WARNING") + RULE.replace("rule: R", "rule: R2").format(
        cond="evt.type = execve and proc.nosuch = a", out="x", prio="WARNING"))
    rs = load_rules([p])
    assert [r.name for r in rs.enabled_rules] == ["R"]
    assert any("output: unknown field 'proc.nope' (printed as <NA>)" in w for w in rs.warnings)
    from containerguard.model import Event

    (alert,) = rs.evaluate(Event(type="execve", time_ns=1, fields={"proc.name": "a"}))
    assert alert.output == "x=<NA> y=a"
