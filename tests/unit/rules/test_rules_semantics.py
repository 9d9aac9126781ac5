"""Condition semantics on hand-made events: absent fields, event-type indexing, multi-valued fields."""

from __future__ import annotations

import pytest

from containerguard.model import Event
from containerguard.runtime.rules import load_rules


def one_rule(write_rules, cond: str, **kw):
    extra = "".join(f"  {k}: {v}\n" for k, v in kw.items())
    return load_rules([write_rules(f"- rule: R\n  desc: d\n  condition: {cond}\n  output: x\n  priority: INFO\n{extra}")])


def hit(rs, etype: str, source: str = "syscall", **fields) -> bool:
    return bool(rs.evaluate(Event(etype, 1, {k.replace("__", "."): v for k, v in fields.items()}, source)))


@pytest.mark.parametrize(("cond", "fields", "expected"), [
    ("evt.type = execve and proc.name != bash", {}, False),            # absent field: comparison false
    ("evt.type = execve and not proc.name = bash", {}, True),          # ... and its negation true
    ("evt.type = execve and proc.name exists", {"proc__name": ""}, True),
    ("evt.type = execve and not proc.name exists", {}, True),
    ("evt.type = execve and proc.name in (bash)", {"proc__name": "bash"}, True),
    ("evt.type = execve and proc.name in bash", {"proc__name": "bash"}, True),  # a bare single value
    ("evt.type = execve and proc.name startswith ''", {}, False),
    ("evt.type = execve and proc.aname = sshd", {"proc__anames": ["bash", "sshd"]}, True),
    ("evt.type = execve and proc.aname in (sshd, cron)", {"proc__anames": ["bash", "sshd"]}, True),
    ("evt.type = execve and proc.aname[3] = sshd", {"proc__anames": ["bash", "sshd"]}, False),
    ("evt.type = execve and proc.aname[0] = a", {"proc__name": "a"}, True),
    ("evt.type = execve and proc.apid = 7", {"proc__apids": [9, 7]}, True),
    ("evt.type = execve and proc.aname contains ssh", {"proc__anames": ["bash", "sshd"]}, True),
    ("evt.type = execve and tolower(proc.aname) = sshd", {"proc__anames": ["bash", "SSHD"]}, True),
    ("evt.type = execve and proc.name = val(proc.pname)", {"proc__name": "a"}, False),
    ("evt.type = execve and fd.name pmatch (/tmp)", {"fd__name": "/tmp"}, True),
    ("evt.type = execve and fd.name pmatch (/tmp)", {"fd__name": "/tmpx"}, False),
    ("evt.type = execve and fd.name pmatch (/)", {"fd__name": "/etc"}, True),
    ("evt.type = execve and container.mount.dest pmatch (/var/run)", {"container__mount__dest": ["/data", "/var/run/x"]}, True),
    ("evt.type = execve and container.mount.source in (/a, /b)", {"container__mount__source": ["/a", "/b"]}, True),
    ("evt.type = execve and container.mount.source in (/a, /b)", {"container__mount__source": ["/a", "/c"]}, False),
    ("evt.type = execve and container.mount.source in (/a, /b)", {"container__mount__source": []}, False),
    ("evt.type = execve and container.mount.source intersects (/a)", {"container__mount__source": ["/c", "/a"]}, True),
    ("evt.type = execve and container.privileged = true", {"container__privileged": True}, True),
    ("evt.type = execve and container.privileged = false", {"container__privileged": True}, False),
    ("evt.type = execve and proc.env = 'A=1 B=2'", {"proc__env": {"A": "1", "B": "2"}}, True),
    ("evt.type = execve and evt.rawtime > 0", {}, True),
    ("evt.type = execve and evt.time startswith 1970-01-01T00:00:00.000000001", {}, True),
    ("evt.type = execve and user.uid = 0x10", {"user__uid": 16}, True),
    ("evt.type = execve and b64(proc.args) = hi", {"proc__args": "aGk="}, True),
    ("evt.type = execve and b64(proc.args) = hi", {"proc__args": "%%%"}, False),
    ("evt.type = execve and basename(fd.name) in (.bashrc)", {"fd__name": "/root/.bashrc"}, True),
    ("evt.type = execve and toupper(proc.name) glob 'B*H'", {"proc__name": "bash"}, True),
])
def test_semantics(write_rules, cond, fields, expected):
    rs = one_rule(write_rules, cond)
    assert hit(rs, "execve", **fields) is expected


def test_rules_only_see_their_event_types(write_rules):
    rs = one_rule(write_rules, "(evt.type = execve and proc.name = a) or (evt.type = openat and fd.name = /x)")
    assert rs.event_types == {"execve", "openat"} and rs.warnings == []
    assert hit(rs, "execve", proc__name="a")
    assert not hit(rs, "openat", proc__name="a")
    assert hit(rs, "openat", fd__name="/x")
    assert not hit(rs, "connect", proc__name="a", fd__name="/x")
    assert not hit(rs, "k8s_audit", "k8s_audit", proc__name="a")


def test_negated_event_type_goes_to_the_all_bucket(write_rules):
    rs = one_rule(write_rules, "evt.type != execve and proc.name = a")
    assert rs.all_event_types and len(rs.warnings) == 1 and "no evt.type restriction" in rs.warnings[0]
    assert hit(rs, "openat", proc__name="a") and hit(rs, "never_seen_type", proc__name="a")
    assert not hit(rs, "execve", proc__name="a")


def test_contradictory_event_types_warn(write_rules):
    rs = one_rule(write_rules, "evt.type = execve and evt.type = openat")
    assert "can never match" in rs.warnings[0]
    assert not hit(rs, "execve") and not hit(rs, "openat")


def test_disabled_rules_are_not_evaluated(write_rules):
    rs = one_rule(write_rules, "evt.type = execve", enabled="false")
    assert not hit(rs, "execve") and rs.event_types == set() and rs.enabled_rules == []


def test_later_file_overrides_earlier(write_rules):
    base = write_rules("- list: l\n  items: [a]\n- rule: R\n  desc: d\n  condition: evt.type = execve and proc.name in (l)\n"
                       "  output: x\n  priority: INFO\n", "base.yaml")
    local = write_rules("- list: l\n  items: [b]\n  override:\n    items: append\n", "local.yaml")
    rs = load_rules([base, local])
    assert hit(rs, "execve", proc__name="b") and hit(rs, "execve", proc__name="a")
    assert not hit(rs, "execve", proc__name="c")


def test_redefinition_replaces_in_place(write_rules):
    p = write_rules("".join(f"- rule: {n}\n  desc: d\n  condition: evt.type = execve and proc.name = {c}\n  output: {n}\n"
                            "  priority: INFO\n" for n, c in (("A", "x"), ("B", "x"), ("A", "y"))))
    rs = load_rules([p])
    assert [r.name for r in rs.rules] == ["A", "B"]
    assert [a.rule for a in rs.evaluate(Event("execve", 1, {"proc.name": "y"}))] == ["A"]
    assert [a.rule for a in rs.evaluate(Event("execve", 1, {"proc.name": "x"}))] == ["B"]


def test_alerts_come_in_rule_order(write_rules):
    p = write_rules("".join(f"- rule: {n}\n  desc: d\n  condition: {c}\n  output: {n}\n  priority: INFO\n"
                            for n, c in (("First", "proc.name = x"), ("Second", "evt.type = execve and proc.name = x"),
                                         ("Third", "evt.type in (execve, openat)"))))
    rs = load_rules([p])
    assert [a.rule for a in rs.evaluate(Event("execve", 1, {"proc.name": "x"}))] == ["First", "Second", "Third"]
    assert [a.rule for a in rs.evaluate(Event("mmap", 1, {"proc.name": "x"}))] == ["First"]


def test_missing_output_fields_print_na(write_rules):
    rs = load_rules([write_rules("- rule: R\n  desc: d\n  condition: evt.type = execve\n"
                                 "  output: 'p=%proc.name f=%fd.name. t=%evt.type l=%proc.aname'\n  priority: INFO\n")])
    [a] = rs.evaluate(Event("execve", 1, {"proc.name": "sh", "proc.anames": ["a", "b"]}))
    assert a.output == "p=sh f=<NA>. t=execve l=a,b"
    assert a.output_fields == {"proc.name": "sh", "fd.name": None, "evt.type": "execve", "proc.aname": ["a", "b"]}


@pytest.mark.parametrize(("fields", "expected"), [
    ({"proc__name": "b"}, True),
    ({"proc__name": "z", "fd__name": "/x/key2"}, True),
    ({"proc__name": "z", "fd__name": "/x/key3"}, False),
    ({"proc__pname": "c"}, True),
    ({}, False),
    ({"fd__name": "/srv/a"}, True),
])
def test_merged_or_chains_keep_their_meaning(write_rules, fields, expected):
    """`f = a or f = b` and startswith/endswith chains are compiled into one test; results must not change."""
    rs = one_rule(write_rules, "evt.type = execve and (proc.name = a or fd.name endswith key1 or proc.name = b "
                  "or proc.pname = c or fd.name endswith key2 or fd.name startswith /srv/ or fd.name startswith /opt/)")
    assert hit(rs, "execve", **fields) is expected


def test_container_labels_and_mounts(write_rules):
    rs = one_rule(write_rules, "evt.type = container and container.label[team] = pay and container.mounts contains :/data")
    assert hit(rs, "container", container__labels={"team": "pay"}, container__mounts=["/srv:/data"])
    assert not hit(rs, "container", container__labels={"team": "ops"}, container__mounts=["/srv:/data"])
    assert not hit(rs, "container", container__mounts=["/srv:/data"])


def test_unknown_event_type_warns(write_rules):
    rs = one_rule(write_rules, "evt.type in (exceve, openat) and proc.name = a")
    assert len(rs.warnings) == 1
    assert "tests unknown event types exceve (not Linux syscalls nor ContainerGuard event types)" in rs.warnings[0]
    assert hit(rs, "openat", proc__name="a")
