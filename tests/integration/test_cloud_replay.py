"""`rules replay --source cloudtrail|gcp|azure|k8s_audit`: the corpus through the CLI. Every rule fires on its
matching event and stays quiet on its near miss -- our default cloud rules and Falco's upstream plugin rules
(read from ../shared/falco-rules/plugins, unmodified)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.fixtures.env import SHARED
from tests.integration.cloud_corpus import (
    DATA,
    cases,
    cloudtrail_records,
    merge,
    provider_records,
    stamp,
    time_key,
    write_audit_log,
    write_azure_export,
    write_cloudtrail_delivery,
    write_gcp_sink,
    write_pubsub_export,
)

from containerguard.cli.main import main
from containerguard.runtime.rules import cloud_rules_path, default_rules_path

UPSTREAM = SHARED / "falco-rules" / "plugins"


def _replay(capsys: pytest.CaptureFixture[str], source: str, rules: list[Path], events: list[Path]) -> list[dict]:
    args = ["rules", "replay", "--source", source]
    for r in rules:
        args += ["--rules", str(r)]
    for e in events:
        args += ["--events", str(e)]
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    assert "malformed" not in err, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _check(selected: list[dict], alerts: list[dict], key: str) -> None:
    by_time: dict[str, set[str]] = {}
    for a in alerts:
        by_time.setdefault(time_key(a), set()).add(a[key])
    problems = []
    for i, case in enumerate(selected):
        fired = by_time.get(stamp(i, "match"), set())
        quiet = by_time.get(stamp(i, "miss"), set())
        if case["rule"] not in fired:
            problems.append(f"case {i} {case['rule']}: did not fire on its match (fired: {sorted(fired)})")
        if case["rule"] in quiet:
            problems.append(f"case {i} {case['rule']}: fired on its near miss")
    assert problems == []


@pytest.mark.parametrize("ruleset", ["cg", "upstream"])
def test_cloudtrail_corpus(tmp_path, capsys, ruleset):
    selected = [c for c in cases("cloudtrail") if c["ruleset"] == ruleset]
    recs = [r for _, r in cloudtrail_records(selected)]
    write_cloudtrail_delivery(tmp_path, recs)
    if ruleset == "cg":
        rules = [cloud_rules_path(), DATA / "region_override.yaml"]
        key = "rule_id"
    else:
        rules = [UPSTREAM / "aws_cloudtrail_rules.yaml"]
        key = "rule"
    alerts = _replay(capsys, "cloudtrail", rules, [tmp_path])
    _check(selected, alerts, key)
    if ruleset == "cg":
        # every rule of the default AWS ruleset has a case
        ids = {c["rule"] for c in selected}
        text = cloud_rules_path().read_text()
        assert {f"CG-A{n:03d}" for n in range(1, 14)} <= ids and all(f"containerguard.id: {i}" in text for i in ids)
    else:
        # every enabled upstream rule has a case
        names = {c["rule"] for c in selected}
        assert len(names) == 20


def test_cloudtrail_alert_carries_falco_fields(tmp_path, capsys):
    selected = [c for c in cases("cloudtrail") if c["rule"] == "CG-A006"]
    recs = [r for kind, r in cloudtrail_records(selected) if kind == "match"]
    write_cloudtrail_delivery(tmp_path, recs)
    alerts = _replay(capsys, "cloudtrail", [cloud_rules_path()], [tmp_path])
    assert len(alerts) == 1
    a = alerts[0]
    assert a["source"] == "aws_cloudtrail" and a["priority"] == "Warning"
    assert a["output_fields"]["ct.user"] == "alice" and a["output_fields"]["ct.srcip"] == "198.51.100.7"
    assert "sg-0a1b2c3d4e5f67890" in a["output"] and "T1562.007" in a["tags"]


@pytest.mark.parametrize("ruleset", ["cg", "upstream"])
@pytest.mark.parametrize("layout", ["sink", "pubsub"])
def test_gcp_corpus(tmp_path, capsys, ruleset, layout):
    selected = [c for c in cases("gcp") if c["ruleset"] == ruleset]
    entries = provider_records("gcp", selected)
    if layout == "sink":
        write_gcp_sink(tmp_path, entries)
    else:
        write_pubsub_export(tmp_path, entries)
    if ruleset == "cg":
        rules, key = [cloud_rules_path(), DATA / "region_override.yaml"], "rule_id"
    else:
        rules, key = [UPSTREAM / "gcp_auditlog_rules.yaml"], "rule"
    alerts = _replay(capsys, "gcp", rules, [tmp_path])
    _check(selected, alerts, key)
    if ruleset == "upstream":
        assert len({c["rule"] for c in selected}) == 39  # every upstream gcpaudit rule


def test_azure_corpus(tmp_path, capsys):
    selected = [c for c in cases("azure") if c["ruleset"] == "cg"]
    write_azure_export(tmp_path, provider_records("azure", selected))
    alerts = _replay(capsys, "azure", [cloud_rules_path(), DATA / "region_override.yaml"], [tmp_path])
    _check(selected, alerts, "rule_id")


def test_azure_rest_shape_maps_to_the_same_fields(tmp_path, capsys):
    """The Activity Log REST / az CLI shape ({"value": [...]}, operationName.value, status.value, caller)."""
    rec = {"authorization": {"action": "Microsoft.Insights/diagnosticSettings/delete",
                             "scope": "/subscriptions/11111111-2222-3333-4444-555555555555/providers/microsoft.insights/diagnosticSettings/siem"},
           "caller": "ana@contoso.com", "correlationId": "c1", "eventTimestamp": "2024-05-01T12:00:00.1234567Z",
           "operationName": {"value": "microsoft.insights/diagnosticSettings/delete", "localizedValue": "Delete diagnostic setting"},
           "status": {"value": "Succeeded", "localizedValue": "Succeeded"}, "subStatus": {"value": "", "localizedValue": ""},
           "httpRequest": {"clientIpAddress": "198.51.100.44", "method": "DELETE"}, "level": "Informational",
           "resourceId": "/subscriptions/11111111-2222-3333-4444-555555555555/providers/microsoft.insights/diagnosticSettings/siem",
           "category": {"value": "Administrative", "localizedValue": "Administrative"},
           "subscriptionId": "11111111-2222-3333-4444-555555555555"}
    p = tmp_path / "activity.json"
    p.write_text(json.dumps({"value": [rec]}))
    alerts = _replay(capsys, "azure", [cloud_rules_path()], [p])
    assert [a["rule_id"] for a in alerts] == ["CG-Z002"]
    assert alerts[0]["output_fields"]["azure.caller"] == "ana@contoso.com"
    assert alerts[0]["output_fields"]["azure.callerip"] == "198.51.100.44"


@pytest.mark.parametrize("provider,source,rule_id,n", [
    ("cloudtrail", "cloudtrail", "CG-A012", 25), ("gcp", "gcp", "CG-G007", 25), ("azure", "azure", "CG-Z007", 25)])
def test_secrets_read_in_bulk(tmp_path, capsys, provider, source, rule_id, n):
    """Twenty secret reads by one principal within ten minutes alert once; the same reads spread over hours,
    or by different principals, do not."""
    base = json.loads((DATA / f"{provider}_base.json").read_text())
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def one(i: int, seconds: int, who: str) -> dict:
        t = (t0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if provider == "cloudtrail":
            return merge(base, {"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                                "eventTime": t, "eventID": f"e{i}", "requestParameters": {"secretId": f"prod/s{i}"},
                                "userIdentity": {"arn": f"arn:aws:iam::123456789012:user/{who}", "userName": who}})
        if provider == "gcp":
            return merge(base, {"timestamp": t, "protoPayload": {
                "serviceName": "secretmanager.googleapis.com", "authenticationInfo": {"principalEmail": f"{who}@example.com"},
                "methodName": "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
                "resourceName": f"projects/1/secrets/s{i}/versions/latest"}})
        return merge(base, {"time": t, "operationName": "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
                            "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": f"{who}@contoso.com"}}})

    burst = [one(i, i * 10, "mallory") for i in range(n)]                    # 25 reads in 4 minutes
    slow = [one(100 + i, 3600 + i * 900, "ci") for i in range(n)]            # 25 reads, one per 15 minutes
    spread = [one(200 + i, 30000 + i, f"user{i}") for i in range(n)]          # 25 principals, one read each
    recs = burst + slow + spread
    if provider == "cloudtrail":
        write_cloudtrail_delivery(tmp_path, recs, per_file=10)
    elif provider == "gcp":
        write_gcp_sink(tmp_path, recs)
    else:
        write_azure_export(tmp_path, recs)
    alerts = [a for a in _replay(capsys, source, [cloud_rules_path()], [tmp_path]) if a["rule_id"] == rule_id]
    assert len(alerts) == 1
    assert "mallory" in alerts[0]["output"]


@pytest.mark.parametrize("ruleset", ["cg", "upstream"])
def test_k8s_audit_corpus(tmp_path, capsys, ruleset):
    selected = [c for c in cases("k8s") if c["ruleset"] == ruleset]
    write_audit_log(tmp_path, provider_records("k8s", selected))
    if ruleset == "cg":
        rules, key = [default_rules_path()], "rule_id"
    else:
        rules, key = [UPSTREAM / "k8s_audit_rules.yaml", DATA / "k8s_upstream_overrides.yaml"], "rule"
    alerts = _replay(capsys, "k8s_audit", rules, [tmp_path])
    _check(selected, alerts, key)
    if ruleset == "upstream":
        text = (UPSTREAM / "k8s_audit_rules.yaml").read_text()
        assert {c["rule"] for c in selected} == {line[len("- rule: "):] for line in text.splitlines()
                                                 if line.startswith("- rule: ")}


def test_replay_bad_input_is_counted_and_named(tmp_path, capsys):
    """Bad files and records are skipped with a warning naming file and record; the good ones still alert;
    --strict stops with a one-line error and exit 2."""
    selected = [c for c in cases("cloudtrail") if c["rule"] == "CG-A005"]
    good = next(r for k, r in cloudtrail_records(selected) if k == "match")
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a_truncated.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [good]}).encode())[:-20])
    (d / "b_bad.json").write_text("{not json")
    (d / "c_mixed.json").write_text(json.dumps({"Records": [{"eventName": "x"}, good, 42]}))
    (d / "d_not_cloudtrail.json").write_text(json.dumps({"hello": "world"}))
    rc = main(["rules", "replay", "--source", "cloudtrail", "--events", str(d)])
    out, err = capsys.readouterr()
    assert rc in (0, None)
    assert [json.loads(line)["rule_id"] for line in out.splitlines()] == ["CG-A005"]
    for needle in ("a_truncated.json.gz: truncated gzip", "b_bad.json: not JSON", "c_mixed.json: record 1",
                   "c_mixed.json: record 3", "d_not_cloudtrail.json: not a CloudTrail log file",
                   "5 malformed files or records skipped"):
        assert needle in err, needle
    rc = main(["rules", "replay", "--source", "cloudtrail", "--strict", "--events", str(d)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.strip().count("\n") == 0 or "error: malformed input" in err
    assert "malformed input" in err and "a_truncated.json.gz" in err
    rc = main(["rules", "replay", "--source", "nosuch", "--events", str(d)])
    assert rc == 2 and "unknown source kind 'nosuch'" in capsys.readouterr().err
