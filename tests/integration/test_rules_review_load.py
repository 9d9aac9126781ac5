"""Hostile and malformed rules files through `containerguard rules validate` and `rules replay` (review of issue 4):
every error is one line naming the file and the line where the mistake is (the macro's, the exception's, the line of
a multi-line condition), never an internal error; the agent's reload keeps the last good ruleset on any of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.runtime.rules import load_rules, reload_rules

RULE = "- rule: a\n  desc: d\n  condition: {cond}\n  output: {out}\n  priority: WARNING\n"


def _validate(tmp_path: Path, capsys, text: str) -> tuple[int, str, str]:
    f = tmp_path / "r.yaml"
    f.write_text(text)
    rc = main(["rules", "validate", "--any-host", str(f)])
    out, err = capsys.readouterr()
    return rc, out, err.replace(str(f), "F")


@pytest.mark.parametrize(("where", "field", "reason"), [
    ("cond", "evt.arg", "field 'evt.arg' needs an [argument]"),
    ("cond", "evt.rawarg", "field 'evt.rawarg' needs an [argument]"),
    ("cond", "proc.name[3]", "field 'proc.name' takes no [argument]"),
    ("cond", "proc.aname[x]", "proc.aname[x]: the argument must be a number"),
    ("cond", "proc.apid[-1]", "proc.apid[-1]: the argument must be a number"),
    ("cond", "proc.env[]", "field 'proc.env': empty [argument]"),
    ("out", "evt.arg", "field 'evt.arg' needs an [argument]"),
    ("out", "evt.rawarg", "field 'evt.rawarg' needs an [argument]"),
    ("out", "proc.name[3]", "field 'proc.name' takes no [argument]"),
    ("out", "proc.aname[x]", "proc.aname[x]: the argument must be a number"),
    ("out", "user.uid[0]", "field 'user.uid' takes no [argument]"),
    ("out", "container.label[]", "field 'container.label': empty [argument]"),
])
def test_field_arguments_are_checked_with_file_and_line(tmp_path: Path, capsys, where: str, field: str,
                                                        reason: str) -> None:
    cond = f"evt.type=open and {field} exists" if where == "cond" else "evt.type=open"
    out_fmt = f'"x %{field} y"' if where == "out" else "x"
    rc, _out, err = _validate(tmp_path, capsys, RULE.format(cond=cond, out=out_fmt))
    assert rc == 1, err
    line = 3 if where == "cond" else 4
    assert err.startswith(f"error: F:{line}: rule 'a': "), err
    assert reason in err and err.count("\n") == 1, err
    assert "internal error" not in err


def test_k8s_audit_field_arguments(tmp_path: Path, capsys) -> None:
    for field, reason in (("jevt.value", "field 'jevt.value' needs an [argument]"),
                          ("jevt.value[abc]", "jevt.value[abc]: the argument must be a JSON pointer"),
                          ("ka.uri.param", "field 'ka.uri.param' needs an [argument]")):
        text = (f"- rule: k\n  condition: ka.verb=get and {field} exists\n  output: x\n  priority: WARNING\n"
                "  source: k8s_audit\n")
        rc, _, err = _validate(tmp_path, capsys, text)
        assert rc == 1 and err.startswith("error: F:2: rule 'k': ") and reason in err, err


def test_type_errors_name_the_macro_and_the_line_of_the_comparison(tmp_path: Path, capsys) -> None:
    text = ("- macro: bad_pid\n  condition: |\n    proc.name = x and\n    proc.pid startswith 1\n"
            "- rule: a\n  desc: d\n  condition: >\n    evt.type=open\n    and bad_pid\n  output: x\n"
            "  priority: WARNING\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1
    assert err.strip() == ("error: F:4: macro 'bad_pid': operator 'startswith' needs a string field, 'proc.pid' is "
                           "int (column 5)")

    text = ("- rule: a\n  desc: d\n  condition: >\n    evt.type=open\n    and proc.name = x\n"
            "    and proc.pid in (1, 2, x)\n  output: x\n  priority: WARNING\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1
    # a folded (>) condition is one line once read: the error still names the line and column in the file
    assert err.strip() == "error: F:6: rule 'a': expected a number, got 'x' (column 9)"

    text = ("- rule: a\n  condition: evt.type=open and container.privileged = yes\n  output: x\n"
            "  priority: WARNING\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert err.strip() == "error: F:2: rule 'a': expected true or false, got 'yes' (column 19 of the condition)"


@pytest.mark.parametrize("style", [">", "|", ">-", "|+", "plain"])
def test_multi_line_conditions_name_the_line_and_column_in_the_file(tmp_path: Path, capsys, style: str) -> None:
    body = ["evt.type in (open, openat)", "  and proc.name in (a, b)", "  and (fd.name startswith /etc", "       or fd.name = x)",
            "  and proc.pid startswith 1"]
    head = "  condition: " + ("" if style == "plain" else style)
    lines = ([f"{head}{body[0]}", *(f"    {b}" for b in body[1:])] if style == "plain" else
             [head, *(f"    {b}" for b in body)])
    text = "- rule: a\n  desc: d\n" + "\n".join(lines) + "\n  output: x\n  priority: WARNING\n"
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1
    line = 7 if style == "plain" else 8
    assert err.strip() == f"error: F:{line}: rule 'a': operator 'startswith' needs a string field, 'proc.pid' is int " \
        "(column 11)", (style, err)


def test_type_errors_in_exceptions_name_the_exception(tmp_path: Path, capsys) -> None:
    text = ("- rule: a\n  desc: d\n  condition: evt.type=open\n  output: x\n  priority: WARNING\n  exceptions:\n"
            "    - name: e\n      fields: [proc.name, proc.pid]\n      comps: [=, startswith]\n"
            "      values: [[a, \"1\"]]\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1
    assert err.strip() == ("error: F:7: rule 'a': exception 'e': operator 'startswith' needs a string field, "
                           "'proc.pid' is int")
    text = ("- rule: a\n  desc: d\n  condition: evt.type=open\n  output: x\n  priority: WARNING\n"
            "- rule: a\n  override: {exceptions: append}\n  exceptions:\n    - name: e\n      fields: proc.pid\n"
            "      values: [abc]\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1
    assert err.strip() == "error: F:9: rule 'a': exception 'e': expected a number, got 'abc'"


def test_reload_keeps_the_last_good_ruleset_on_every_such_error(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(RULE.format(cond="evt.type=open and proc.name=a", out="x"))
    good = load_rules([f])
    for bad in ("evt.type=open and evt.arg = x", "evt.type=open and proc.name[1] = x"):
        f.write_text(RULE.format(cond=bad, out="x"))
        rs, err = reload_rules(good, [f])
        assert rs is good and err is not None and err.line == 3
    f.write_text(RULE.format(cond="evt.type=open", out='"%evt.arg"'))
    rs, err = reload_rules(good, [f])
    assert rs is good and err is not None and err.line == 4


# ---- what Falco's loader accepts and refuses in a rules file's layout (rule_loader_reader, falco docs)

OK_RULE = "- rule: {name}\n  desc: d\n  condition: evt.type=open and proc.name={name}\n  output: o\n  priority: WARNING\n"


def test_null_items_and_several_documents_load_as_falco_does(tmp_path: Path, capsys) -> None:
    # Falco skips empty items of the list and reads every YAML document of the file
    text = OK_RULE.format(name="a") + "-\n- ~\n---\n" + OK_RULE.format(name="b") + "---\n# only a comment\n"
    rc, out, err = _validate(tmp_path, capsys, text)
    assert rc == 0, err
    assert "Ok (2 rules" in out


@pytest.mark.parametrize(("item", "line"), [("- 5\n", 6), ("- [rule, a]\n", 6), ("- just text\n", 6)])
def test_an_item_that_is_not_a_mapping_names_its_line(tmp_path: Path, capsys, item: str, line: int) -> None:
    rc, _, err = _validate(tmp_path, capsys, OK_RULE.format(name="a") + item + OK_RULE.format(name="b"))
    assert rc == 1
    assert err.startswith(f"error: F:{line}: item 2 is not a mapping"), err


def test_a_document_that_is_not_a_list_names_its_line(tmp_path: Path, capsys) -> None:
    rc, _, err = _validate(tmp_path, capsys, OK_RULE.format(name="a") + "---\nrule: b\n")
    assert rc == 1 and err.startswith("error: F:7: a rules file must be a YAML list"), err


def test_exception_names_are_unique_within_a_rule(tmp_path: Path, capsys) -> None:
    text = (OK_RULE.format(name="a") + "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [x]\n"
            "  - name: e\n    fields: proc.pid\n    values: [1]\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1 and err.strip() == "error: F:10: rule 'a': exception 'e' is defined twice (also at line 7)", err


def test_override_replaces_skip_if_unknown_filter_and_warn_evttypes(tmp_path: Path, capsys) -> None:
    text = (OK_RULE.format(name="a").replace("proc.name=a", "proc.nosuch=a") +
            "- rule: a\n  skip-if-unknown-filter: true\n  warn_evttypes: false\n  override:\n"
            "    skip-if-unknown-filter: replace\n    warn_evttypes: replace\n")
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 0, err
    assert "rule 'a' disabled: unknown field 'proc.nosuch'" in err
    rc, _, err = _validate(tmp_path, capsys, OK_RULE.format(name="a") + "- rule: a\n  warn_evttypes: 3\n"
                           "  override:\n    warn_evttypes: replace\n")
    assert rc == 1 and "rule 'a': 'warn_evttypes' must be true or false" in err, err


@pytest.mark.parametrize(("item", "message"), [
    ("- required_engine_version: [1]\n", "F:1: required_engine_version must be a version (0.57.0) or a number"),
    ("- required_engine_version: abc\n", "F:1: required_engine_version 'abc' is not a version (x.y.z or a number)"),
    ("- required_engine_version: 1.2.3.4.5\n", "F:1: required_engine_version '1.2.3.4.5' is not a version (x.y.z or a "
     "number)"),
    ("- required_plugin_versions: 5\n", "F:1: required_plugin_versions must be a list"),
    ("- required_plugin_versions:\n  - json\n", "F:2: required_plugin_versions: each entry needs a name and a version"),
    ("- required_plugin_versions:\n  - name: json\n", "F:2: required_plugin_versions: each entry needs a name and a "
     "version"),
])
def test_required_versions_are_checked(tmp_path: Path, capsys, item: str, message: str) -> None:
    rc, _, err = _validate(tmp_path, capsys, item + OK_RULE.format(name="a"))
    assert rc == 1 and err.strip() == f"error: {message}", err


def test_a_newer_engine_version_warns_and_loads(tmp_path: Path, capsys) -> None:
    for version, warns in (("0.57.0", False), ("10", False), ("0.99.0", True), ("1.0.0", True), ("150", True)):
        rc, out, err = _validate(tmp_path, capsys, f"- required_engine_version: {version}\n" + OK_RULE.format(name="a"))
        assert rc == 0 and "Ok (1 rules" in out
        assert ("warning: F:1: the file requires Falco engine version" in err) is warns, (version, err)


# ---- sizes: a small file must not expand into an unbounded condition or list (the agent would hang on a reload)


def _doubling(kind: str, n: int) -> str:
    if kind == "macro":
        body = "- macro: d0\n  condition: proc.name = a\n" + "".join(
            f"- macro: d{i}\n  condition: (d{i - 1} and not d{i - 1})\n" for i in range(1, n))
        return body + f"- rule: a\n  condition: evt.type=open and d{n - 1}\n  output: x\n  priority: WARNING\n"
    body = "- list: l0\n  items: [a, b]\n" + "".join(f"- list: l{i}\n  items: [l{i - 1}, l{i - 1}]\n"
                                                     for i in range(1, n))
    return body + f"- rule: a\n  condition: evt.type=open and proc.name in (l{n - 1})\n  output: x\n  priority: WARNING\n"


@pytest.mark.parametrize("n", [25, 40, 64])
def test_macros_doubling_are_refused_not_expanded(tmp_path: Path, capsys, n: int) -> None:
    rc, _, err = _validate(tmp_path, capsys, _doubling("macro", n))
    assert rc == 1
    assert err.startswith("error: F:") and "rule 'a': condition too large after macro expansion" in err, err


@pytest.mark.parametrize("n", [25, 40, 64])
def test_lists_doubling_are_refused_not_expanded(tmp_path: Path, capsys, n: int) -> None:
    rc, _, err = _validate(tmp_path, capsys, _doubling("list", n))
    assert rc == 1
    assert "list 'l" in err and "items after expanding the lists it names" in err, err


def test_a_large_but_reasonable_expansion_still_loads(tmp_path: Path, capsys) -> None:
    rc, out, err = _validate(tmp_path, capsys, _doubling("macro", 10) + "\n" + _doubling("list", 12).replace(
        "- rule: a\n", "- rule: b\n"))
    assert rc == 0, err
    assert "Ok (2 rules" in out


def test_macros_nested_too_deeply_name_the_rule(tmp_path: Path, capsys) -> None:
    text = "- macro: m0\n  condition: proc.name = a\n" + "".join(
        f"- macro: m{i}\n  condition: m{i - 1} or proc.name = b{i}\n" for i in range(1, 3000))
    text += "- rule: deep\n  condition: evt.type=open and m2999\n  output: x\n  priority: WARNING\n"
    rc, _, err = _validate(tmp_path, capsys, text)
    assert rc == 1 and err.startswith("error: F:6001: rule 'deep': macros nested too deeply"), err


@pytest.mark.parametrize(("item", "message"), [
    ("- macro: proc.name\n  condition: proc.pid = 1\n", "macro 'proc.name': not a valid macro name"),
    ("- macro: 1abc\n  condition: proc.pid = 1\n", "macro '1abc': not a valid macro name"),
    ("- macro: a b\n  condition: proc.pid = 1\n", "macro 'a b': not a valid macro name"),
    ("- macro: and\n  condition: proc.pid = 1\n", "macro 'and': not a valid macro name"),
    ("- list: a b\n  items: [x]\n", "list 'a b': not a valid list name"),
    ("- list: 'a,b'\n  items: [x]\n", "list 'a,b': not a valid list name"),
    ("- list: '(x)'\n  items: [x]\n", "list '(x)': not a valid list name"),
])
def test_macro_and_list_names_are_checked(tmp_path: Path, capsys, item: str, message: str) -> None:
    rc, _, err = _validate(tmp_path, capsys, item + OK_RULE.format(name="a"))
    assert rc == 1 and err.startswith(f"error: F:1: {message}"), err


@pytest.mark.parametrize("item", ["- list: l\n  items: [x]\n- list: l\n  append: true\n  override: {items: append}\n"
                                  "  items: [y]\n",
                                  "- macro: m\n  condition: proc.pid=1\n- macro: m\n  append: true\n"
                                  "  override: {condition: append}\n  condition: or proc.pid=2\n"])
def test_append_and_override_together_are_refused(tmp_path: Path, capsys, item: str) -> None:
    rc, _, err = _validate(tmp_path, capsys, item + OK_RULE.format(name="a"))
    assert rc == 1 and "use either 'append' or 'override', not both" in err and err.startswith("error: F:3:"), err
