"""fd.sip.name & co.: Falco's DNS-manager semantics (watched names resolved, addresses matched against them), on the
rules engine and on DomainNames' refresh logic. Resolution here is a table the test controls (no lookups at all);
the live path is tests/integration/test_agent_dns_names.py."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fixtures import env

from containerguard.model import Event
from containerguard.runtime.dns import (
    DomainNames,
    canonical_ip,
    domain_constants,
    parse_extra_hosts,
    parse_hosts,
)
from containerguard.runtime.rules import load_rules

RULES = """
- list: bad_domains
  items: [evil.example, "pool.example"]
- rule: To bad domain
  desc: d
  condition: evt.type = connect and fd.sip.name in (bad_domains)
  output: bad (name=%fd.sip.name ip=%fd.sip)
  priority: WARNING
- rule: To API server
  desc: d
  condition: evt.type = connect and fd.sip.name = "api.example"
  output: api %fd.sip.name
  priority: NOTICE
- rule: Inbound not from a known client
  desc: d
  condition: evt.type = accept and fd.cip.name != "client.example"
  output: inbound from %fd.cip (%fd.cip.name)
  priority: NOTICE
"""


def _ev(t: str, **f: object) -> Event:
    return Event(type=t, time_ns=1, fields={"evt.type": t, **f})


def _fired(rs: object, ev: Event) -> set[str]:
    return {a.rule for a in rs.evaluate(ev)}  # type: ignore[attr-defined]


def _names(table: dict[str, set[str]]) -> DomainNames:
    d = DomainNames("hosts", lambda n: frozenset(table.get(n, ())))
    return d


def test_watched_names_come_from_enabled_conditions(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RULES + "- rule: Disabled one\n  desc: d\n  condition: evt.type=connect and fd.sip.name = never.example\n"
                 "  output: x\n  priority: INFO\n  enabled: false\n")
    rs = load_rules([p])
    assert domain_constants(rs.enabled_conditions()) == ["evil.example", "pool.example", "api.example",
                                                         "client.example"]


def test_an_address_matches_every_name_it_resolves_for_not_only_the_first(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RULES)
    rs = load_rules([p])
    dns = _names({"evil.example": {"203.0.113.9"}, "api.example": {"203.0.113.9", "2001:db8::1"},
                  "client.example": {"198.51.100.20"}})
    dns.watch(domain_constants(rs.enabled_conditions()), wait=2.0)
    f: dict[str, object] = {"evt.type": "connect", "fd.sip": "203.0.113.9", "fd.cip": "172.17.0.2"}
    dns.fill(f)
    # the value is the first watched name (outputs); = and in compare with all of them
    assert f["fd.sip.name"] == "evil.example" and f["fd.sip.names"] == ["evil.example", "api.example"]
    assert f["fd.cip.name"] is None
    assert _fired(rs, Event("connect", 1, f)) == {"To bad domain", "To API server"}
    alert = rs.evaluate(Event("connect", 1, f))[0]
    assert alert.output == "bad (name=evil.example ip=203.0.113.9)"
    v6: dict[str, object] = {"evt.type": "connect", "fd.sip": "2001:db8::1"}
    dns.fill(v6)
    assert _fired(rs, Event("connect", 1, v6)) == {"To API server"}
    other: dict[str, object] = {"evt.type": "connect", "fd.sip": "192.0.2.1"}
    dns.fill(other)
    assert _fired(rs, Event("connect", 1, other)) == set()
    dns.stop()


def test_not_equal_holds_on_ip_sockets_only(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RULES)
    rs = load_rules([p])
    dns = _names({"client.example": {"198.51.100.20"}})
    dns.watch(["client.example"], wait=2.0)
    known: dict[str, object] = {"evt.type": "accept", "fd.cip": "198.51.100.20"}
    unknown: dict[str, object] = {"evt.type": "accept", "fd.cip": "198.51.100.99"}
    for f in (known, unknown):
        dns.fill(f)
    assert _fired(rs, Event("accept", 1, known)) == set()
    assert _fired(rs, Event("accept", 1, unknown)) == {"Inbound not from a known client"}
    assert _fired(rs, Event("accept", 1, {"evt.type": "accept"})) == set()  # no address: Falco's false
    # a recorded or hand-made event with only the name (no list) still compares
    assert _fired(rs, _ev("connect", **{"fd.sip": "1.2.3.4", "fd.sip.name": "pool.example"})) == {"To bad domain"}
    dns.stop()


def test_container_host_entries_count_and_names_are_case_insensitive() -> None:
    dns = _names({})
    dns.watch(["Kubernetes.Default.Svc.Cluster.Local"], wait=2.0)
    extra = parse_extra_hosts(["kubernetes.default.svc.cluster.local:10.96.0.1", "bad entry", "x=::ffff:10.0.0.9",
                               "other:10.0.0.2"])
    assert extra == (("kubernetes.default.svc.cluster.local", "10.96.0.1"), ("x", "10.0.0.9"), ("other", "10.0.0.2"))
    assert dns.names_of("10.96.0.1", extra) == ("Kubernetes.Default.Svc.Cluster.Local",)
    assert dns.names_of("10.96.0.1") == ()  # only that container's view
    dns.stop()


def test_refresh_backs_off_while_unchanged_and_follows_changes() -> None:
    answers = {"svc.example": {"10.0.0.1"}}
    calls: list[str] = []

    def resolve(name: str) -> frozenset[str] | None:
        calls.append(name)
        return frozenset(answers[name])

    dns = DomainNames("hosts", resolve, base_refresh=0.1, max_refresh=0.4)
    dns.watch(["svc.example"], wait=2.0)
    assert dns.names_of("10.0.0.1") == ("svc.example",)
    time.sleep(1.2)
    # 0.1 + 0.2 + 0.4 + 0.4 ...: far fewer calls than a fixed 0.1 s period would make
    assert 3 <= len(calls) <= 7, calls
    answers["svc.example"] = {"10.0.0.2"}
    deadline = time.monotonic() + 3
    while dns.names_of("10.0.0.2") != ("svc.example",):
        assert time.monotonic() < deadline, "the new address was not picked up"
        time.sleep(0.05)
    assert dns.names_of("10.0.0.1") == ()
    dns.stop()


def test_a_transient_failure_keeps_the_known_addresses() -> None:
    state = {"fail": False}

    def resolve(name: str) -> frozenset[str] | None:
        return None if state["fail"] else frozenset({"10.0.0.5"})

    dns = DomainNames("hosts", resolve, base_refresh=0.05, max_refresh=0.05)
    dns.watch(["a.example"], wait=2.0)
    state["fail"] = True
    time.sleep(0.3)
    assert dns.failures >= 1 and dns.names_of("10.0.0.5") == ("a.example",)
    dns.stop()


def test_hosts_files_parse_like_the_resolver_reads_them() -> None:
    table = parse_hosts("127.0.0.1 localhost\n# comment\n10.0.0.3  Web web.local  # inline\n::1 ip6-localhost\n"
                        "not-an-ip name\n")
    assert table["web"] == frozenset({"10.0.0.3"}) and table["web.local"] == frozenset({"10.0.0.3"})
    assert table["ip6-localhost"] == frozenset({"::1"}) and "name" not in table
    assert canonical_ip("::ffff:192.0.2.1") == "192.0.2.1" and canonical_ip("[2001:DB8::1]") == "2001:db8::1"


def test_upstream_rules_reading_domain_names_load_enabled() -> None:
    from containerguard.runtime.agent import available_fields

    base = env.SHARED / "falco-rules"
    rs = load_rules([base / "falco_rules.yaml", base / "falco-sandbox_rules.yaml"],
                    available_fields=available_fields(False))
    by_name = {r.name: r for r in rs.rules}
    assert by_name["Contact K8S API Server From Container"].enabled
    # disabled by its own file (enabled: false), not for a missing field
    assert by_name["Detect outbound connections to common miner pool ports"].disabled_reason == "enabled: false"
    off = load_rules([base / "falco_rules.yaml"], available_fields=available_fields(False, dns=False))
    assert "fd.sip.name" in next(r for r in off.rules if r.name == "Contact K8S API Server From Container").missing
