"""CloudTrail from S3 and SQS against moto's server on 127.0.0.1 (boto3, credentials from the standard
environment variables): listing, incremental reads after new objects, state across restarts, the SQS
notification path, and failing credentials reported in health and retried with backoff."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from tests.integration.cloud_corpus import cases, cloudtrail_records

from containerguard.runtime.cloud.aws import S3Source, SqsSource, run_polling
from containerguard.runtime.cloud.cloudtrail import CloudTrailParser
from containerguard.runtime.cloud.health import SourceHealth


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture()
def aws_env(moto, monkeypatch) -> str:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": moto, "AWS_EC2_METADATA_DISABLED": "true",
                 "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}.items():
        monkeypatch.setenv(k, v)
    return moto


def _doc(kind: str, n: int) -> bytes:
    recs = [r for k, r in cloudtrail_records([c for c in cases("cloudtrail") if c["ruleset"] == "cg"]) if k == kind]
    return gzip.compress(json.dumps({"Records": recs[:n]}).encode())


def _key(i: int) -> str:
    return f"AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/01/123456789012_CloudTrail_us-east-1_20240501T12{i:02d}Z_x{i}.json.gz"


def test_s3_incremental_and_remembered(aws_env, tmp_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="trail-bucket")
    s3.put_object(Bucket="trail-bucket", Key=_key(1), Body=_doc("match", 5))
    s3.put_object(Bucket="trail-bucket", Key="other/ignored.json.gz", Body=_doc("match", 5))
    state = tmp_path / "state.json"
    h = SourceHealth("cloudtrail:s3://trail-bucket/AWSLogs/", "cloudtrail")
    src = S3Source("trail-bucket", "AWSLogs/", CloudTrailParser(), h, state_path=state)
    first = list(src.poll())
    assert len(first) == 5 and h.files == 1 and h.status == "ok"
    assert list(src.poll()) == []  # nothing new
    s3.put_object(Bucket="trail-bucket", Key=_key(2), Body=_doc("miss", 3))
    second = list(src.poll())
    assert len(second) == 3 and h.files == 2
    # a restarted source remembers what it read
    again = S3Source("trail-bucket", "AWSLogs/", CloudTrailParser(), SourceHealth("x", "cloudtrail"), state_path=state)
    assert list(again.poll()) == []
    s3.put_object(Bucket="trail-bucket", Key=_key(3), Body=b"\x1f\x8b\x08\x00truncated")
    assert list(again.poll()) == [] and again.health.parse_errors == 1
    assert "truncated" in again.health.recent_warnings[0] or "corrupt" in again.health.recent_warnings[0]
    assert _key(3) in again.health.recent_warnings[0]


def test_sqs_notifications(aws_env):
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    s3.create_bucket(Bucket="trail-notify")
    url = sqs.create_queue(QueueName="trail-events")["QueueUrl"]
    s3.put_object(Bucket="trail-notify", Key=_key(4), Body=_doc("match", 4))
    s3.put_object(Bucket="trail-notify", Key=_key(5), Body=_doc("miss", 2))
    s3_note = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": "trail-notify"}, "object": {"key": _key(4).replace(":", "%3A")}}}]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_note))
    # CloudTrail's own SNS notification, wrapped in an SNS envelope
    sns = {"Type": "Notification", "Message": json.dumps({"s3Bucket": "trail-notify", "s3ObjectKey": [_key(5)]})}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(sns))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    h = SourceHealth("cloudtrail:sqs:trail-events", "cloudtrail")
    src = SqsSource("trail-events", CloudTrailParser(), h, wait_s=1)
    got = []
    for _ in range(5):
        got += list(src.poll())
        if len(got) >= 6 and h.parse_errors:
            break
    assert len(got) == 6 and h.files == 2 and h.parse_errors == 1
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None  # all deleted


def test_failing_credentials_reported_and_retried(moto, monkeypatch):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto, "AWS_EC2_METADATA_DISABLED": "true",
                 "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}.items():
        monkeypatch.setenv(k, v)
    boto3.client("s3", aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="trail-creds")
    h = SourceHealth("cloudtrail:s3://trail-creds/", "cloudtrail")
    src = S3Source("trail-creds", "", CloudTrailParser(), h)
    src.backoff.first = src.backoff._next = 0.05
    src.backoff.ceiling = 0.5
    stop = threading.Event()
    t = threading.Thread(target=run_polling, args=(src, lambda ev: None, stop, 0.05), daemon=True)
    t.start()
    deadline = time.time() + 30
    while h.credential_failures < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert h.status == "degraded" and h.credential_failures >= 2 and h.retries >= 2
    assert "credentials" in h.last_error and h.backoff_s > 0.05  # backing off further each time
    # credentials appear: the next retry reads and the source is healthy again
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    try:
        deadline = time.time() + 30
        while h.status != "ok" and time.time() < deadline:
            time.sleep(0.1)
        assert h.status == "ok" and h.last_error == ""
    finally:
        stop.set()
        t.join(5)
        del os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]


def test_agent_reads_s3_and_sqs(aws_env, tmp_path):
    """`containerguard agent --source cloudtrail:s3://... --source cloudtrail:sqs:...`: both read through the
    agent, with their health in /healthz and what S3 read remembered in --source-state."""
    import urllib.request

    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="agent-trail")
    s3.put_object(Bucket="agent-trail", Key=_key(10), Body=_doc("match", 3))
    url = sqs.create_queue(QueueName="agent-trail-events")["QueueUrl"]
    s3.put_object(Bucket="agent-trail", Key="notified/" + _key(11), Body=_doc("match", 2))
    note = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "agent-trail"}, "object": {"key": "notified/" + _key(11)}}}]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(note))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, state = tmp_path / "alerts.jsonl", tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                             "--source", "cloudtrail:s3://agent-trail/AWSLogs/", "--source", "cloudtrail:sqs:agent-trail-events",
                             "--source-interval", "0.5", "--source-state", str(state), "--health-port", str(port),
                             "--output", f"file:{out}", "--stats-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("wb"), env=os.environ.copy())
    try:
        deadline = time.time() + 90
        events: list[int] = []
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    events = [s["events"] for s in json.loads(r.read())["sources"]]
            except OSError:
                events = []
            if events == [3, 2]:
                break
            time.sleep(0.3)
        assert events == [3, 2], (tmp_path / "agent.log").read_text()[-2000:]
        assert list(state.glob("cloudtrail-*.json"))  # the S3 source remembers what it read
    finally:
        proc.terminate()
        proc.wait(20)
    assert len([json.loads(line) for line in out.read_text().splitlines()]) >= 5
