"""CloudTrail as it is really delivered, and hostile text in it, through `rules replay --source cloudtrail`:
digest files (CloudTrail-Digest/, written beside the logs when log file validation is on) are not log files and
are skipped without a warning; control characters in record ids, file names and reasons never reach the terminal
raw (an OSC title, a screen clear or a forged line in a warning)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.integration.test_cloud_aws import aws_env, moto  # noqa: F401 - fixtures

from containerguard.cli.main import main
from containerguard.runtime.cloud.aws import S3Source, SqsSource
from containerguard.runtime.cloud.cloudtrail import CloudTrailParser
from containerguard.runtime.cloud.health import SourceHealth

ACCOUNT = "111122223333"


def _record(i: int, **kw: Any) -> dict[str, Any]:
    rec = {"eventVersion": "1.09",
           "userIdentity": {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                            "accountId": ACCOUNT},
           "eventTime": f"2026-11-27T10:00:{i:02d}Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
           "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
           "requestParameters": {"userName": f"u{i}"}, "responseElements": None, "eventID": f"e-{i}",
           "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
           "eventCategory": "Management"}
    rec.update(kw)
    return rec


def _digest(hour: int) -> dict[str, Any]:
    return {"awsAccountId": ACCOUNT, "digestStartTime": f"2026-11-27T{hour:02d}:00:00Z",
            "digestEndTime": f"2026-11-27T{hour + 1:02d}:00:00Z", "digestS3Bucket": "trail-bucket",
            "digestS3Object": f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/27/d{hour}.json.gz",
            "digestPublicKeyFingerprint": "0f0e", "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": f"2026-11-27T{hour:02d}:59:00Z", "oldestEventTime": f"2026-11-27T{hour:02d}:00:00Z",
            "previousDigestS3Bucket": None, "previousDigestS3Object": None, "previousDigestHashValue": None,
            "previousDigestHashAlgorithm": None, "previousDigestSignature": None,
            "logFiles": [{"s3Bucket": "trail-bucket", "s3Object": "x.json.gz", "hashValue": "ab",
                          "hashAlgorithm": "SHA-256", "newestEventTime": "2026-11-27T10:00:00Z",
                          "oldestEventTime": "2026-11-27T10:00:00Z"}]}


def _replay(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[dict[str, Any]], str]:
    args = ["rules", "replay", "--source", "cloudtrail", "--workers", "1"]
    for p in paths:
        args += ["--events", str(p)]
    rc = main(args)
    out, err = capsys.readouterr()
    return rc or 0, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_digest_files_are_not_malformed_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "11" / "27"
    digests = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "11" / "27"
    logs.mkdir(parents=True)
    digests.mkdir(parents=True)
    (logs / f"{ACCOUNT}_CloudTrail_us-east-1_20261127T1000Z_a.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [_record(1), _record(2)]}).encode()))
    for hour in (9, 10):  # gzip as delivered, and a plain copy a user downloaded
        (digests / f"{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261127T{hour:02d}0000Z.json.gz"
         ).write_bytes(gzip.compress(json.dumps(_digest(hour)).encode()))
    (tmp_path / "digest-copy.json").write_text(json.dumps(_digest(11)))
    rc, alerts, err = _replay(capsys, tmp_path)
    assert rc == 0
    assert "Digest" not in err and "digest-copy" not in err and "malformed" not in err, err
    assert {a["rule_id"] for a in alerts} >= {"CG-A002"}  # the root account's calls still alert


@pytest.mark.parametrize("hostile", ["\x1b]0;owned\x07", "\x1b[2J\x1b[H", "line\nFORGED: all clear", "\u202eevil",
                                     "\x9b31m"])
def test_control_characters_in_warnings_are_visible_not_interpreted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: str) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.json").write_text(json.dumps({"Records": [_record(1, eventID=hostile, eventTime="not a time"),
                                                      _record(2)]}))
    (d / f"b{hostile.replace(chr(0), '')}.json").write_text("{not json")
    rc, alerts, err = _replay(capsys, d)
    assert rc == 0 and len(alerts) >= 1
    assert not any(c in err for c in "\x1b\x07\x9b\u202e"), repr(err)
    lines = err.strip().splitlines()
    assert all(line.startswith("warning: ") for line in lines), lines
    assert len(lines) == 3, lines  # two skipped, one count: each once, one line each


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("depth", [300, 995, 1100, 5000])
def test_a_deeply_nested_record_is_one_skipped_record(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      depth: int, workers: str) -> None:
    """Every JSON library here has its own depth limit (orjson 1024 to read and 255 to write, msgspec Python's
    recursion limit): a record nested past any of them is one counted record, never an internal error, and the
    other records of the same file still alert."""
    d = tmp_path / "logs"
    d.mkdir()
    deep = json.dumps(_record(2))[:-1] + f', "additionalEventData": {_nested(depth)}}}'
    doc = '{"Records": [' + json.dumps(_record(1)) + ", " + deep + ", " + json.dumps(_record(3)) + "]}"
    (d / "a.json").write_text(doc)
    (d / "b.json.gz").write_bytes(gzip.compress(doc.encode()))
    (d / "c.json").write_text(json.dumps({"Records": [_record(4)]}))
    rc = main(["rules", "replay", "--source", "cloudtrail", "--workers", workers, "--events", str(d)])
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    alerts = [json.loads(x) for x in out.splitlines()]
    users = sorted(f"u{int(a['time'][17:19])}" for a in alerts if a["rule_id"] == "CG-A002")  # the second is i
    # the deep record is skipped, or read whole when every library here can take it: never an error
    assert set(users) - {"u2"} == {"u1", "u3", "u4"} and users.count("u1") == 2, (users, err)
    assert "internal error" not in err
    if "u2" not in users:
        assert "a.json: record 2" in err and "b.json.gz: record 2" in err, err


@pytest.mark.parametrize("source", ["gcp", "k8s_audit"])
def test_deep_nesting_in_other_sources_costs_one_record(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        source: str) -> None:
    """The same class for the document formats of GCP (a JSON array of LogEntry) and Kubernetes (an EventList)."""
    base = Path(__file__).parents[1] / "data" / "cloud"
    if source == "gcp":
        rec = json.loads((base / "gcp_base.json").read_text())
        head, tail = "[", "]"
    else:
        rec = json.loads((base / "k8s_base.json").read_text())
        head, tail = '{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [', "]}"
    deep = json.dumps(rec)[:-1] + f', "extra": {_nested(3000)}}}'
    (tmp_path / "doc.json").write_text(head + ", ".join([json.dumps(rec), deep, json.dumps(rec)]) + tail)
    (tmp_path / "none.yaml").write_text("[]\n")  # no rules: the table counts the events read
    rc = main(["rules", "replay", "--source", source, "--workers", "1", "--format", "table", "--rules",
               str(tmp_path / "none.yaml"), "--events", str(tmp_path / "doc.json")])
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    assert "from 2 events" in out, out
    assert "doc.json: record 2: nested too deeply" in err, err


def test_digest_files_in_s3_and_sqs(aws_env: str) -> None:  # noqa: F811 - the fixture
    """The bucket CloudTrail delivers into holds the digest files beside the logs (and an S3 event notification
    names them too): the S3 source does not fetch them, the SQS source reads one and finds no events in it."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="digest-trail")
    log_key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/27/{ACCOUNT}_CloudTrail_us-east-1_20261127T1000Z_a.json.gz"
    dig_key = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/27/{ACCOUNT}_CloudTrail-Digest_us-east-1_t_" \
        "us-east-1_20261127T100000Z.json.gz"
    s3.put_object(Bucket="digest-trail", Key=log_key, Body=gzip.compress(json.dumps({"Records": [_record(1)]}).encode()))
    s3.put_object(Bucket="digest-trail", Key=dig_key, Body=gzip.compress(json.dumps(_digest(10)).encode()))
    h = SourceHealth("cloudtrail:s3://digest-trail/AWSLogs/", "cloudtrail")
    events = list(S3Source("digest-trail", "AWSLogs/", CloudTrailParser(), h).poll())
    assert len(events) == 1 and h.files == 1 and h.parse_errors == 0, h.to_json()
    url = sqs.create_queue(QueueName="digest-trail")["QueueUrl"]
    for k in (dig_key, log_key):
        note = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": "digest-trail"}, "object": {"key": k}}}]}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(note))
    h = SourceHealth("cloudtrail:sqs:digest-trail", "cloudtrail")
    src = SqsSource("digest-trail", CloudTrailParser(), h, wait_s=1)
    got: list[Any] = []
    for _ in range(5):
        got += list(src.poll())
        if got:
            break
    assert len(got) == 1 and h.parse_errors == 0, h.to_json()
