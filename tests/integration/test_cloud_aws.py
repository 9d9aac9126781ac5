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


def test_sqs_message_of_several_objects_retried_without_repeats(aws_env, tmp_path):
    """A notification names three objects and the second cannot be read the first time (not there yet): the other
    two are read, the message stays and comes back after its visibility timeout, and then only the missing object
    is read -- by a restarted source too, which remembers in its state file. Every event exactly once."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="trail-multi")
    url = sqs.create_queue(QueueName="trail-multi", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    keys = [_key(20 + i) for i in range(3)]
    docs = [_doc("match", 4), _doc("miss", 3), _doc("match", 2)]
    s3.put_object(Bucket="trail-multi", Key=keys[0], Body=docs[0])
    s3.put_object(Bucket="trail-multi", Key=keys[2], Body=docs[2])
    note = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "trail-multi"}, "object": {"key": k, "sequencer": f"0065A{i}"}}} for i, k in enumerate(keys)]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(note))
    state = tmp_path / "sqs-state.json"
    h = SourceHealth("cloudtrail:sqs:trail-multi", "cloudtrail")
    src = SqsSource("trail-multi", CloudTrailParser(), h, wait_s=1, state_path=state)
    got = []
    with pytest.raises(Exception, match="NoSuchKey") as failed:
        for ev in src.poll():
            got.append(ev)
    assert len(got) == 6 and h.files == 2  # the first and the third object
    assert keys[1] in str(failed.value)     # the reason names the object that failed
    s3.put_object(Bucket="trail-multi", Key=keys[1], Body=docs[1])
    again = SqsSource("trail-multi", CloudTrailParser(), SourceHealth("again", "cloudtrail"), wait_s=2,
                      state_path=state)  # a restart
    deadline = time.time() + 30
    while len(got) < 9 and time.time() < deadline:
        got += list(again.poll())
    ids = [ev.fields["ct.id"] for ev in got]
    assert len(ids) == 9 and again.health.files == 1, ids  # only the object not read before
    time.sleep(1.5)  # past the visibility timeout: a message not deleted would be back
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    assert list(again.poll()) == []


def test_run_polling_reports_a_failed_object_and_backs_off(aws_env):
    """The runner sees the failed fetch as a failed read: degraded with the object named, then ok again."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="trail-late")
    url = sqs.create_queue(QueueName="trail-late", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    note = {"s3Bucket": "trail-late", "s3ObjectKey": [_key(30)]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Type": "Notification", "Message": json.dumps(note)}))
    h = SourceHealth("cloudtrail:sqs:trail-late", "cloudtrail")
    src = SqsSource("trail-late", CloudTrailParser(), h, wait_s=1)
    src.backoff.first = src.backoff._next = 0.2
    events: list = []
    stop = threading.Event()
    t = threading.Thread(target=run_polling, args=(src, events.append, stop, 0.0), daemon=True)
    t.start()
    try:
        deadline = time.time() + 30
        while h.retries < 1 and time.time() < deadline:
            time.sleep(0.1)
        assert h.status == "degraded" and _key(30) in h.last_error and "NoSuchKey" in h.last_error
        assert h.credential_failures == 0 and h.failure == "read"
        s3.put_object(Bucket="trail-late", Key=_key(30), Body=_doc("match", 3))
        deadline = time.time() + 30
        while len(events) < 3 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # long enough for a message left behind to come back
        assert len(events) == 3 and h.status == "ok"
    finally:
        stop.set()
        t.join(10)


@pytest.fixture(scope="module")
def moto_auth() -> Iterator[tuple[str, dict[str, str]]]:
    """A moto server that checks credentials as AWS does (access key known to its IAM, signature, IAM policy)
    after the first 7 requests, which set up a user with an access key, a bucket with a log file and a queue
    with a notification. Yields (endpoint, the valid key pair)."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "7"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "setup",
          "aws_secret_access_key": "setup"}
    try:
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="reader")                                                        # 1
        iam.put_user_policy(UserName="reader", PolicyName="read-trail", PolicyDocument=json.dumps({  # 2
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]}))
        key = iam.create_access_key(UserName="reader")["AccessKey"]                               # 3
        s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        s3.create_bucket(Bucket="auth-trail")                                                     # 4
        s3.put_object(Bucket="auth-trail", Key=_key(40), Body=_doc("match", 3))                   # 5
        q = sqs.create_queue(QueueName="auth-trail")["QueueUrl"]                                  # 6
        sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"s3Bucket": "auth-trail", "s3ObjectKey": [_key(40)]}))  # 7
        with pytest.raises(Exception, match=r"InvalidAccessKeyId|InvalidClientTokenId|403"):
            s3.list_objects_v2(Bucket="auth-trail")  # from now on credentials are checked
        yield url, {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        proc.terminate()
        proc.wait(10)


def test_agent_with_wrong_credentials_reports_and_recovers(moto_auth, tmp_path):
    """Credentials present but wrong (an unknown key, then a known key with the wrong secret): both the S3 and
    the SQS source report a credentials failure in /healthz and /metrics and retry with growing backoff; when
    the shared credentials file gets the right key, they read without a restart."""
    import urllib.request

    url, key = moto_auth
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIAUNKNOWNKEY000000\naws_secret_access_key = wrong\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true"})
    port = _free_port()
    out = tmp_path / "alerts.jsonl"
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                             "--source", "cloudtrail:s3://auth-trail/AWSLogs/", "--source", "cloudtrail:sqs:auth-trail",
                             "--source-interval", "1", "--source-state", str(tmp_path / "state"),
                             "--health-port", str(port), "--output", f"file:{out}", "--stats-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)

    def sources() -> list[dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                return list(json.loads(r.read())["sources"])
        except OSError:
            return []

    def wait(pred, what: str) -> list[dict]:
        deadline = time.time() + 60
        while time.time() < deadline:
            got = sources()
            if got and pred(got):
                return got
            time.sleep(0.3)
        raise AssertionError(f"{what}: {sources()} {(tmp_path / 'agent.log').read_text()[-1500:]}")

    try:
        got = wait(lambda s: all(x["credential_failures"] >= 2 for x in s), "credentials failures")
        for src in got:
            assert src["status"] == "degraded" and src["failure"] == "credentials"
            assert src["events"] == 0 and src["backoff_s"] >= 2
            assert "InvalidAccessKeyId" in src["last_error"] or "InvalidClientTokenId" in src["last_error"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'containerguard_source_up{source="cloudtrail:s3://auth-trail/AWSLogs/",kind="cloudtrail"} 0' in metrics
        assert 'containerguard_source_credential_failures_total{source="cloudtrail:sqs:auth-trail"' in metrics
        # a known key with the wrong secret: the signature does not match, still a credentials failure
        creds.write_text(f"[default]\naws_access_key_id = {key['id']}\naws_secret_access_key = not-the-secret\n")
        wait(lambda s: all("SignatureDoesNotMatch" in x["last_error"] for x in s), "signature failures")
        creds.write_text(f"[default]\naws_access_key_id = {key['id']}\naws_secret_access_key = {key['secret']}\n")
        got = wait(lambda s: [x["events"] for x in s] == [3, 3] and all(x["status"] == "ok" for x in s), "recovery")
        assert all(x["last_error"] == "" and x["failure"] == "" for x in got)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    assert "Traceback" not in (tmp_path / "agent.log").read_text()
