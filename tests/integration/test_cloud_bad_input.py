"""The issue's bad input for every source kind, end to end: truncated gzip files, malformed JSON, records missing
what every record has, members of unexpected types, and huge request bodies -- each counted and skipped with a
warning naming the file and the record (or line), the rest still read, the source never stopped. GCP sink files
and Pub/Sub export files and Azure exports through `rules replay`; CloudTrail from S3 and SQS against moto's
server (CloudTrail files and directories: test_cloud_agent.py, test_cloud_replay.py, test_cloud_pool.py)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.integration.cloud_corpus import DATA
from tests.integration.test_cloud_aws import _key, aws_env, moto  # noqa: F401 - fixtures

from containerguard.cli.main import main
from containerguard.runtime.cloud.aws import S3Source, SqsSource
from containerguard.runtime.cloud.cloudtrail import CloudTrailParser
from containerguard.runtime.cloud.health import SourceHealth

HUGE = "A" * (300 << 10)


def _base(provider: str, i: int) -> dict[str, Any]:
    rec = json.loads((DATA / f"{provider}_base.json").read_text())
    if provider == "gcp":
        rec["insertId"] = f"good-{i}"
    else:
        rec["correlationId"] = f"good-{i}"
    return rec


def _bad_records(provider: str) -> list[tuple[str, Any, str | None]]:
    """(what, record, the words its warning has -- None when it is odd but still read)."""
    if provider == "gcp":
        missing = _base("gcp", 90)
        del missing["protoPayload"]["methodName"]
        no_time = _base("gcp", 91)
        del no_time["timestamp"], no_time["receiveTimestamp"]
        huge = _base("gcp", 92)
        huge["protoPayload"]["request"] = {"blob": HUGE}
        odd = _base("gcp", 93)
        odd["protoPayload"].update(authenticationInfo="someone", requestMetadata=[1], status="bad", request=12)
        odd["resource"] = 5
        return [("missing methodName", missing, "methodName"), ("missing timestamp", no_time, "timestamp"),
                ("huge request", huge, "limit"), ("not an object", "text", "JSON object"),
                ("no protoPayload", {"textPayload": "hi", "timestamp": "2024-05-01T12:00:00Z"}, "protoPayload"),
                ("odd member types", odd, None)]
    missing = _base("azure", 90)
    del missing["operationName"]
    no_time = _base("azure", 91)
    del no_time["time"]
    huge = _base("azure", 92)
    huge["properties"]["requestbody"] = json.dumps({"blob": HUGE})
    odd = _base("azure", 93)
    odd.update(identity="someone", properties=[1], category=5, callerIpAddress={"x": 1}, resourceId=7)
    return [("missing operationName", missing, "operationName"), ("missing time", no_time, "time"),
            ("huge request body", huge, "limit"), ("not an object", "text", "JSON object"),
            ("odd member types", odd, None)]


def _check(capsys: pytest.CaptureFixture[str], source: str, root: Path, events: int,
           needles: list[str], errors: int) -> None:
    rc = main(["rules", "replay", "--source", source, "--events", str(root), "--format", "table"])
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    assert f"from {events} events" in out, out  # the good records were all read
    for needle in needles:
        assert needle in err, (needle, err)
    assert f"warning: {errors} malformed files or records skipped" in err, err


@pytest.mark.parametrize("provider", ["gcp", "azure"])
def test_json_lines_exports(tmp_path, capsys, provider):
    """A GCP log-sink file or an Azure diagnostic-settings export (one record per line) with bad lines in the
    middle, a truncated gzip file (its complete lines still read) and a file that is not JSON at all."""
    bad = _bad_records(provider)
    lines = [json.dumps(_base(provider, 0)), "{not json", *(json.dumps(r) for _, r, _ in bad), json.dumps(_base(provider, 1))]
    (tmp_path / "a.json").write_text("\n".join(lines))  # no newline after the last line: still read
    good = "".join(json.dumps(_base(provider, 10 + i)) + "\n" for i in range(40)).encode()
    gz = gzip.compress(good)
    (tmp_path / "b.json.gz").write_bytes(gz[: len(gz) * 3 // 4])
    (tmp_path / "c.json").write_bytes(b"\x00\x01binary garbage\xff")
    # the complete lines before the cut, as Python's own zlib inflates them
    salvaged = zlib.decompressobj(wbits=31).decompress(gz[: len(gz) * 3 // 4]).count(b"\n")
    assert 0 < salvaged < 40
    rc = main(["rules", "replay", "--source", provider, "--events", str(tmp_path), "--format", "table"])
    out, err = capsys.readouterr()
    assert rc in (0, None), err
    read = int(out.split(" from ")[1].split(" events")[0])
    odd = sum(1 for _, _, w in bad if w is None)
    assert read == 2 + odd + salvaged
    a = tmp_path / "a.json"
    assert f"{a}: line 2: not JSON" in err
    for n, (what, _, words) in enumerate(bad, 3):
        if words is not None:
            assert f"{a}: line {n}: " in err and words in err.split(f"{a}: line {n}: ")[1].splitlines()[0], what
    assert f"{tmp_path / 'b.json.gz'}: truncated gzip" in err or f"{tmp_path / 'b.json.gz'}: corrupt gzip" in err
    assert f"{tmp_path / 'c.json'}: " in err
    errors = 1 + sum(1 for _, _, w in bad if w is not None) + 2
    assert f"warning: {errors} malformed files or records skipped" in err, err


def test_gcp_pubsub_export(tmp_path, capsys):
    """A Pub/Sub pull response saved to a file: messages whose data is not base64 JSON, or decodes to a bad entry,
    are skipped by record number; the others are read."""
    bad = _bad_records("gcp")

    def msg(i: int, data: str) -> dict[str, Any]:
        return {"ackId": f"a{i}", "message": {"messageId": str(i), "data": data}}

    def enc(entry: Any) -> str:
        return base64.b64encode(json.dumps(entry).encode()).decode()

    msgs = [msg(0, enc(_base("gcp", 0))), msg(1, "%%% not base64 %%%"), msg(2, enc("just a string")),
            *(msg(3 + i, enc(r)) for i, (_, r, _) in enumerate(bad)), msg(99, enc(_base("gcp", 1)))]
    p = tmp_path / "pull.json"
    p.write_text(json.dumps({"receivedMessages": msgs}))
    odd = sum(1 for _, _, w in bad if w is None)
    needles = [f"{p}: record 2: Pub/Sub message data is not base64 JSON", f"{p}: record 3: "]
    needles += [f"{p}: record {3 + i + 1}: " for i, (_, _, w) in enumerate(bad) if w is not None]
    _check(capsys, "gcp", tmp_path, 2 + odd, needles, 2 + sum(1 for _, _, w in bad if w is not None))
    # a push delivery that is cut off is one bad file; the source goes on with the next
    (tmp_path / "push.json").write_text(json.dumps({"message": msgs[0]["message"]})[:40])
    _check(capsys, "gcp", tmp_path, 2 + odd, [f"{tmp_path / 'push.json'}: "],
           3 + sum(1 for _, _, w in bad if w is not None))


def _ct_bad_objects() -> dict[str, bytes]:
    rec = json.loads((DATA / "cloudtrail_base.json").read_text())
    good = gzip.compress(json.dumps({"Records": [rec, dict(rec, eventID="second")]}).encode())
    huge = dict(rec, eventID="huge", requestParameters={"blob": HUGE})
    missing = {k: v for k, v in rec.items() if k != "eventName"}
    odd = dict(rec, eventID="odd", userIdentity=["x"], requestParameters="text", tlsDetails=4)
    return {"good": good, "truncated": good[: len(good) // 2], "malformed": b'{"Records": [{"eventName": ',
            "mixed": gzip.compress(json.dumps({"Records": [huge, missing, 3, odd]}).encode()),
            "not-cloudtrail": b'{"hello": "world"}'}


def _expect_ct(h: SourceHealth, where: dict[str, str]) -> None:
    text = "\n".join(h.recent_warnings)
    assert h.events == 3 and h.parse_errors == 6, text  # good: 2, odd: 1; 1 + 1 + 3 + 1 skipped
    for needle in (f"{where['truncated']}: truncated gzip", f"{where['malformed']}: not JSON",
                   f"{where['mixed']}: record 1: requestParameters is", f"{where['mixed']}: record 2: record has no eventName",
                   f"{where['mixed']}: record 3: ", f"{where['not-cloudtrail']}: not a CloudTrail log file"):
        assert needle in text, needle


def test_s3_bad_objects(aws_env):  # noqa: F811 - the fixture
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bad-trail")
    where = {}
    for i, (name, body) in enumerate(_ct_bad_objects().items()):
        key = _key(50 + i).replace(".json.gz", f"-{name}.json.gz")
        s3.put_object(Bucket="bad-trail", Key=key, Body=body)
        where[name] = f"s3://bad-trail/{key}"
    h = SourceHealth("cloudtrail:s3://bad-trail/", "cloudtrail")
    src = S3Source("bad-trail", "", CloudTrailParser(), h)
    list(src.poll())
    _expect_ct(h, where)
    assert h.status == "ok" and list(src.poll()) == []  # bad objects are not read again and again


def test_sqs_bad_objects(aws_env):  # noqa: F811 - the fixture
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="bad-notify")
    url = sqs.create_queue(QueueName="bad-notify", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    where, keys = {}, []
    for i, (name, body) in enumerate(_ct_bad_objects().items()):
        key = _key(60 + i).replace(".json.gz", f"-{name}.json.gz")
        s3.put_object(Bucket="bad-notify", Key=key, Body=body)
        where[name] = f"s3://bad-notify/{key}"
        keys.append(key)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"s3Bucket": "bad-notify", "s3ObjectKey": keys}))
    note = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bad-notify"}, "object": 5}}]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(note))  # a notification of an odd shape: nothing in it
    h = SourceHealth("cloudtrail:sqs:bad-notify", "cloudtrail")
    src = SqsSource("bad-notify", CloudTrailParser(), h, wait_s=1)
    for _ in range(5):
        list(src.poll())
        if h.events >= 3:
            break
    _expect_ct(h, where)
    assert h.status == "ok"
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages") is None  # both deleted
    copy.deepcopy(h.to_json())  # health stays serialisable with the warnings
