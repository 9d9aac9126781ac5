"""Cloud audit parsers and the defensive reader: field meaning (as Falco's plugins define it), the typed fast
path agreeing with the generic one, multi-member and truncated gzip, incremental directory reads."""

from __future__ import annotations

import base64
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from containerguard.runtime.cloud.azure import AzureActivityParser
from containerguard.runtime.cloud.cloudtrail import BurstCounter, CloudTrailParser, RecordError
from containerguard.runtime.cloud.gcp import GcpAuditParser
from containerguard.runtime.cloud.health import Backoff, SourceHealth
from containerguard.runtime.cloud.reader import DirectoryState, events_from_bytes, read_directory
from containerguard.runtime.events import LazyJSON, event_to_json

DATA = Path(__file__).resolve().parents[2] / "data" / "cloud"


def _ct(**over: Any) -> dict[str, Any]:
    rec = json.loads((DATA / "cloudtrail_base.json").read_text())
    rec.update(over)
    return rec


def _fields(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in CloudTrailParser().event(rec).fields.items() if k != "jevt"}


@pytest.mark.parametrize("identity,user", [
    ({"type": "Root", "userName": "acct-root"}, "acct-root"),
    ({"type": "IAMUser", "userName": "alice"}, "alice"),
    ({"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"userName": "Deployer"}}}, "Deployer"),
    ({"type": "AssumedRole"}, "AssumedRole"),
    ({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com"),
    ({"type": "FederatedUser"}, "FederatedUser"),
    ({"type": "SomethingNew"}, "<unknown user type>"),
])
def test_ct_user_follows_the_identity_type(identity, user):
    assert _fields(_ct(userIdentity=identity))["ct.user"] == user


def test_ct_fields():
    f = _fields(_ct(eventSource="s3.amazonaws.com", eventName="GetObject", readOnly=None,
                    requestParameters={"bucketName": "b", "key": "k/o.txt", "Host": "b.s3.amazonaws.com"},
                    additionalEventData={"bytesTransferredIn": 0, "bytesTransferredOut": 512.0},
                    errorCode="AccessDenied"))
    assert f["s3.uri"] == "s3://b/k/o.txt" and f["s3.bucket"] == "b" and f["s3.key"] == "k/o.txt"
    assert f["s3.bytes"] == 512 and f["s3.bytes.out"] == 512 and f["s3.cnt.get"] == 1 and f["s3.cnt.other"] == 0
    assert f["ct.readonly"] == "true"  # no readOnly member: guessed from the name, as the plugin does
    assert f["ct.error"] == "AccessDenied" and f["ct.shortsrc"] == "s3" and f["ct.request.host"] == "b.s3.amazonaws.com"
    assert f["ct.info"] == "alice via 198.51.100.7 !← GetObject Size=512 URI=s3://b/k/o.txt"
    assert _fields(_ct(eventName="TerminateInstances", readOnly=None))["ct.readonly"] == "false"


def test_bad_records_raise_with_a_reason():
    p = CloudTrailParser()
    with pytest.raises(RecordError, match="eventName"):
        p.event(_ct(eventName=None))
    with pytest.raises(RecordError, match="eventTime"):
        p.event(_ct(eventTime="yesterday"))
    with pytest.raises(RecordError, match="limit"):
        p.event(_ct(requestParameters={"x": "A" * (300 << 10)}))
    with pytest.raises(RecordError, match="JSON object"):
        p.event(["not", "a", "record"])
    # members of an unexpected type are ignored, not fatal
    odd = p.event(_ct(userIdentity="someone", requestParameters=[1, 2], responseElements="ok", tlsDetails=3)).fields
    assert "ct.user" not in odd and odd["ct.request"] == "[1,2]" and odd["ct.response"] == '"ok"'
    odd = p.event(_ct(userIdentity={"type": "AssumedRole", "sessionContext": "broken"})).fields
    assert odd["ct.user"] == "AssumedRole" and odd["ct.user.identitytype"] == "AssumedRole"


def test_file_and_record_entry_points_agree():
    """Every corpus record gives the same fields read from a delivered file (typed decoding of the raw record)
    as handed over decoded (a dict, e.g. from a JSON-lines file), and a recording holds the whole record."""
    import yaml
    from tests.integration.cloud_corpus import cloudtrail_records

    cases = yaml.safe_load((DATA / "cloudtrail_cases.yaml").read_text())
    recs = [r for _, r in cloudtrail_records(cases)]
    doc = json.dumps({"Records": recs}, separators=(",", ":")).encode()
    fast = list(events_from_bytes(doc, "x", CloudTrailParser(), SourceHealth("x", "cloudtrail")))
    generic = CloudTrailParser()
    slow = [generic.event(r) for r in recs]
    for ev in slow:
        generic.ordered(ev)  # the per-source state (secret reads), as the reader applies it
    assert len(fast) == len(slow) == len(recs)
    for a, b in zip(fast, slow, strict=True):
        fa = {k: v for k, v in a.fields.items() if k != "jevt"}
        fb = {k: v for k, v in b.fields.items() if k != "jevt"}
        assert fa == fb
        assert isinstance(a.fields["jevt"], LazyJSON) and a.fields["jevt"].value() == b.fields["jevt"].value()
        assert event_to_json(a)["fields"]["jevt"] == b.fields["jevt"].value()


def test_burst_counter_window():
    c = BurstCounter(window_s=600)
    assert [c.add("p", i * 10**9) for i in range(3)] == [1, 2, 3]
    assert c.add("p", 700 * 10**9) == 1  # the first three are older than ten minutes
    assert c.add("q", 700 * 10**9) == 1


def test_gcp_fields_and_pubsub_unwrap():
    entry = json.loads((DATA / "gcp_base.json").read_text())
    entry["protoPayload"]["serviceData"] = {"policyDelta": {"bindingDeltas": [{"action": "ADD", "member": "allUsers",
                                                                               "role": "roles/viewer"}]}}
    entry["resource"] = {"type": "gce_instance", "labels": {"project_id": "p", "zone": "europe-west1-b"}}
    msg = {"message": {"data": base64.b64encode(json.dumps(entry).encode()).decode(), "messageId": "1"}}
    for item in (entry, msg, {"data": msg["message"]["data"]}):
        f = GcpAuditParser().event(item).fields
        assert f["gcp.user"] == "dev@example.com" and f["gcp.callerIP"] == "203.0.113.20"
        assert f["gcp.location"] == "europe-west1" and f["gcp.projectId"] == "p"
        assert json.loads(f["gcp.policyDelta"]) == [{"action": "ADD", "member": "allUsers", "role": "roles/viewer"}]
    with pytest.raises(RecordError, match="protoPayload"):
        GcpAuditParser().event({"textPayload": "hello", "timestamp": "2024-05-01T12:00:00Z"})


def test_azure_shapes_agree():
    export = json.loads((DATA / "azure_base.json").read_text())
    rest = {"caller": "ana@contoso.com", "eventTimestamp": "2024-05-01T12:00:00.0000000Z",
            "operationName": {"value": "Microsoft.Compute/virtualMachines/read"}, "status": {"value": "Succeeded"},
            "httpRequest": {"clientIpAddress": "198.51.100.44"}, "resourceId": export["resourceId"].lower(),
            "category": {"value": "Administrative"}, "level": "Informational"}
    a, b = AzureActivityParser().event(export).fields, AzureActivityParser().event(rest).fields
    for k in ("azure.operation", "azure.caller", "azure.callerip", "azure.resourceid", "azure.subscriptionid",
              "azure.resourcegroup", "azure.resource.provider", "azure.resource.type", "azure.resource.name",
              "azure.category"):
        assert a[k] == b[k], k
    assert a["azure.resource.type"] == "microsoft.compute/virtualmachines" and a["azure.resource.name"] == "web-01"
    assert a["azure.claims"]["appid"] == "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def test_gzip_multimember_truncated_and_salvaged_lines():
    entry = json.loads((DATA / "gcp_base.json").read_text())
    lines = b"".join(json.dumps(dict(entry, insertId=os.urandom(8).hex())).encode() + b"\n" for i in range(3000))
    h = SourceHealth("x", "gcp")
    two = gzip.compress(lines[: len(lines) // 2]) + gzip.compress(lines[len(lines) // 2:])
    # the split falls inside a line: one member ends mid-line and the next carries on (gzip -c a b > c)
    assert len(list(events_from_bytes(two, "two.gz", GcpAuditParser(), h))) == 3000 and h.parse_errors == 0
    full = gzip.compress(lines)
    got = list(events_from_bytes(full[: int(len(full) * 0.7)], "cut.gz", GcpAuditParser(), h))
    assert 1000 < len(got) < 3000 and h.parse_errors == 1 and "cut.gz" in h.recent_warnings[-1]
    ct = gzip.compress(json.dumps({"Records": [_ct()]}).encode())
    assert list(events_from_bytes(ct[:-8], "ct.gz", CloudTrailParser(), h)) == [] and h.parse_errors == 2


def test_directory_reads_new_files_and_appended_lines(tmp_path):
    entry = json.loads((DATA / "gcp_base.json").read_text())
    line = (json.dumps(entry) + "\n").encode()
    log = tmp_path / "sink" / "a.json"
    log.parent.mkdir()
    log.write_bytes(line * 3 + line[:40])  # the last line is still being written
    h, st, p = SourceHealth("x", "gcp"), DirectoryState(), GcpAuditParser()
    assert len(list(read_directory(tmp_path, p, h, st))) == 3 and h.parse_errors == 0
    with log.open("ab") as fh:
        fh.write(line[40:] + line)
    os.utime(log, ns=(1, 2))
    assert len(list(read_directory(tmp_path, p, h, st))) == 2   # the completed line and the new one
    assert list(read_directory(tmp_path, p, h, st)) == []       # unchanged
    (tmp_path / "sink" / ".hidden.json").write_bytes(line)
    (tmp_path / "sink" / "b.json.tmp").write_bytes(line)
    assert list(read_directory(tmp_path, p, h, st)) == []


def test_health_and_backoff():
    h = SourceHealth("s", "cloudtrail")
    h.saw_event(1_000_000_000)
    assert h.lag_seconds(now_ns=11_000_000_000) == 10.0
    h.failed("InvalidAccessKeyId: bad", credentials=True, backoff_s=2.0)
    assert h.to_json()["status"] == "degraded" and h.credential_failures == 1
    h.read_ok()
    assert h.status == "ok" and h.last_error == ""
    b = Backoff(first=1, ceiling=5)
    assert [b.next() for _ in range(5)] == [1, 2, 4, 5, 5]
    b.reset()
    assert b.next() == 1


def test_lazy_fields_fill_on_read_and_travel_as_the_record():
    """A CloudTrail event's map holds the flat members at once and computes the rest when read; whole-map views
    hold every field; pickled (from a pool worker) it carries the record and the fields set from outside."""
    import pickle

    from containerguard.runtime.cloud.cloudtrail import CloudTrailFields

    rec = _ct(requestParameters={"userName": "bob"}, tlsDetails={"tlsVersion": "TLSv1.3"})
    ev = CloudTrailParser().fast_event(json.dumps(rec).encode())
    f = ev.fields
    assert isinstance(f, CloudTrailFields)
    assert dict.get(f, "ct.name") == rec["eventName"] and dict.get(f, "ct.user") is None  # not computed yet
    assert f.get("ct.user") == "alice" and dict.get(f, "ct.user.arn") is not None          # and its siblings
    assert "ct.request.username" in f and f["ct.request.username"] == "bob"
    assert f.get("ct.error") is None and "ct.error" not in f and f.get("ct.error", "x") == "x"
    with pytest.raises(KeyError):
        f["no.such.field"]
    f["ct.user.secretreads"] = 3  # set from outside (the per-source state)
    again = pickle.loads(pickle.dumps(f))
    assert again == f and dict(again.items())["ct.tlsdetails.tlsversion"] == "TLSv1.3"
    assert again["ct.user.secretreads"] == 3 and len(again) == len(f)
    assert {k for k, _ in f.items()} == set(f.keys()) >= {"ct.info", "ct.tlsdetails.tlsversion", "jevt"}
