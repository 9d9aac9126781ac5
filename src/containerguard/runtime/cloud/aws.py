"""CloudTrail from AWS: an S3 bucket/prefix read incrementally, or an SQS queue fed by S3 (or CloudTrail SNS)
notifications. boto3 is the client: the standard credential chain (environment, shared files, SSO, container
and instance roles) and the standard endpoint settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, ...)
apply as for any AWS tool.

A read that fails (network, permissions, credentials) marks the source degraded in its health with the reason,
and is retried with exponential backoff; what was read is remembered in a small JSON state file so a restart
neither re-reads nor skips objects.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from containerguard.errors import RuntimeSensorError
from containerguard.model import Event
from containerguard.runtime.cloud.health import Backoff, SourceHealth
from containerguard.runtime.cloud.reader import MAX_DOC_BYTES, Parser, events_from_bytes

log = logging.getLogger(__name__)

#: error codes that mean "these credentials are not good" rather than "try again later"
CREDENTIAL_ERRORS = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "InvalidToken",
    "UnrecognizedClientException", "InvalidClientTokenId", "AccessDenied", "AccessDeniedException",
    "AuthFailure", "InvalidSecurity", "MissingAuthenticationToken", "TokenRefreshRequired",
})
#: how many object keys the S3 state remembers (oldest forgotten first)
MAX_REMEMBERED_KEYS = 200_000


class AwsSourceError(RuntimeSensorError):
    """An S3/SQS source could not be set up (bad spec, boto3 missing)."""


class ObjectReadError(Exception):
    """Objects a notification named could not be fetched (the reason names the first); the runner reports it
    and backs off, like any failed read."""

    def __init__(self, reason: str, credentials: bool) -> None:
        super().__init__(reason)
        self.credentials = credentials


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise AwsSourceError("reading from S3/SQS needs boto3 (pip install boto3)") from None
    return boto3


def classify(exc: BaseException) -> tuple[str, bool]:
    """(one-line reason, is it a credentials problem) for an exception from boto3."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, ObjectReadError):
        return str(exc), exc.credentials
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"no usable AWS credentials: {exc}", True
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code", "?")), str(err.get("Message", ""))
        found = _XML_CODE.search(message)
        if found:  # an error body botocore could not parse (XML where the protocol is JSON): its code and message
            code = found.group(1)
            msg = _XML_MESSAGE.search(message)
            message = msg.group(1) if msg else ""
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reason = " ".join(f"{code}: {message}".split())[:300]
        # 401/403 from AWS always mean the request's identity: unknown key, bad signature, expired or denied
        return reason, code in CREDENTIAL_ERRORS or status in (401, 403)
    if isinstance(exc, BotoCoreError):
        return str(exc), "credential" in str(exc).lower()
    return f"{type(exc).__name__}: {exc}", False


_XML_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,300})</Message>")


def _aws_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError, ObjectReadError)


class _StateFile:
    """A JSON document on disk, written atomically (tmp + rename)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable source state, starting afresh: %s", self.path, exc)
            return {}
        return doc if isinstance(doc, dict) else {}

    def save(self, doc: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)


#: where CloudTrail delivers its digest files (hashes of the log files, no events): not read from S3 at all
_DIGEST_DIR = "/CloudTrail-Digest/"


def _read_body(body: Any) -> bytes:
    data: bytes = body.read(MAX_DOC_BYTES + 1)
    body.close()
    return data


class S3Source:
    """Objects under ``s3://bucket/prefix``: each poll lists the prefix and reads the objects not read before
    (key and ETag remembered, so a rewritten object is read again)."""

    def __init__(self, bucket: str, prefix: str, parser: Parser, health: SourceHealth, *,
                 state_path: Path | None = None, client_factory: Callable[[], Any] | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.parser = parser
        self.health = health
        self._state = _StateFile(state_path)
        doc = self._state.load()
        read = doc.get("read") if doc.get("bucket") == bucket and doc.get("prefix") == prefix else None
        self.read: dict[str, str] = dict(read) if isinstance(read, dict) else {}
        # a new session per client: after a failure the credential chain is walked afresh (the default
        # session would keep what it found, or did not find, the first time)
        self._factory = client_factory or (lambda: _boto3().session.Session().client("s3"))
        self._client: Any = None
        self.backoff = Backoff()

    def _s3(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def poll(self) -> Iterator[Event]:
        """One pass: list, then read each new object in key order. Raises boto3/botocore errors to the runner."""
        s3 = self._s3()
        new: list[tuple[str, str]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents") or []:
                key, etag = str(obj["Key"]), str(obj.get("ETag", ""))
                if self.read.get(key) != etag and not key.endswith("/") and _DIGEST_DIR not in key:
                    new.append((key, etag))
        new.sort()
        for key, etag in new:
            data = _read_body(s3.get_object(Bucket=self.bucket, Key=key)["Body"])
            self.health.files += 1
            yield from events_from_bytes(data, f"s3://{self.bucket}/{key}", self.parser, self.health)
            self.read[key] = etag
            if len(self.read) > MAX_REMEMBERED_KEYS:
                for old in sorted(self.read)[: len(self.read) - MAX_REMEMBERED_KEYS]:
                    del self.read[old]
            self._state.save({"bucket": self.bucket, "prefix": self.prefix, "read": self.read})
        self.health.read_ok()

    def reset_client(self) -> None:
        """Drop the client, so the next read makes a new one (fresh credentials)."""
        self._client = None


@dataclass(frozen=True)
class NotifiedObject:
    """An S3 object named by a notification. ``version`` tells two writes of one key apart: the S3 event's
    ``sequencer`` (or ``eTag``/``versionId``); CloudTrail's own notifications name keys it never rewrites."""

    bucket: str
    key: str
    version: str = ""

    @property
    def ident(self) -> str:
        """What the source remembers as read."""
        return f"s3://{self.bucket}/{self.key}#{self.version}"


def notification_objects(body: str) -> list[NotifiedObject]:
    """The S3 objects named by one SQS message body: an S3 event notification, the same wrapped in an SNS
    notification, or CloudTrail's own SNS notification (``s3Bucket`` + ``s3ObjectKey``). Raises ValueError for
    a body that is none of these."""
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        doc = json.loads(doc["Message"])
    if not isinstance(doc, dict):
        raise ValueError("message is not a JSON object")
    if isinstance(doc.get("s3Bucket"), str) and isinstance(doc.get("s3ObjectKey"), list):
        return [NotifiedObject(doc["s3Bucket"], str(k)) for k in doc["s3ObjectKey"]]
    if doc.get("Event") == "s3:TestEvent":
        return []
    recs = doc.get("Records")
    if not isinstance(recs, list):
        raise ValueError("not an S3 or CloudTrail notification (no Records / s3ObjectKey)")
    out: list[NotifiedObject] = []
    for r in recs:
        s3 = r.get("s3") if isinstance(r, dict) else None
        if not isinstance(s3, dict) or not str(r.get("eventName", "")).startswith("ObjectCreated"):
            continue
        bucket, obj = s3.get("bucket"), s3.get("object")
        name = bucket.get("name") if isinstance(bucket, dict) else None
        if not isinstance(obj, dict):
            continue
        key = obj.get("key")
        if isinstance(name, str) and isinstance(key, str):
            version = next((str(obj[k]) for k in ("sequencer", "eTag", "versionId") if obj.get(k)), "")
            out.append(NotifiedObject(name, unquote_plus(key), version))  # S3 notifications URL-encode the key
    return out


class SqsSource:
    """An SQS queue of S3 object notifications. Each object a message names is fetched and parsed, and
    remembered as read (in the state file, so a restart remembers too); the message is deleted once all its
    objects are read. When one of them cannot be fetched, the others are still read, the message stays on the
    queue and comes back after its visibility timeout, and only the objects not read yet are read then: no
    event is emitted twice. A message that is not a notification is counted and deleted."""

    def __init__(self, queue: str, parser: Parser, health: SourceHealth, *, wait_s: int = 20,
                 client_factory: Callable[[str], Any] | None = None, delete: bool = True,
                 state_path: Path | None = None) -> None:
        self.queue = queue
        self.parser = parser
        self.health = health
        self.wait_s = wait_s
        self.delete = delete
        self._factory = client_factory or (lambda svc: _boto3().session.Session().client(svc))
        self._sqs: Any = None
        self._s3: Any = None
        self._url: str | None = None
        self.backoff = Backoff()
        self._state = _StateFile(state_path)
        doc = self._state.load()
        done = doc.get("done") if doc.get("queue") == queue else None
        #: object ident -> when it was read (unix s); the oldest are forgotten past MAX_REMEMBERED_KEYS
        self.done: dict[str, float] = dict(done) if isinstance(done, dict) else {}

    def _clients(self) -> tuple[Any, Any, str]:
        if self._sqs is None:
            self._sqs = self._factory("sqs")
            self._s3 = self._factory("s3")
        if self._url is None:
            self._url = self.queue if self.queue.startswith(("http://", "https://")) else \
                str(self._sqs.get_queue_url(QueueName=self.queue)["QueueUrl"])
        return self._sqs, self._s3, self._url

    def poll(self) -> Iterator[Event]:
        """Receive the queued notifications and yield the events of the log files they name. A fetch that
        failed is raised after the other messages were handled (the runner reports it and backs off)."""
        sqs, s3, url = self._clients()
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_s)
        self.health.read_ok()
        failure: ObjectReadError | None = None
        for msg in resp.get("Messages") or []:
            label = f"sqs message {msg.get('MessageId', '?')}"
            try:
                objects = notification_objects(str(msg.get("Body", "")))
            except ValueError as exc:
                self.health.skipped(label, f"not an S3 notification: {exc}")
                objects = []
            complete = True
            for obj in objects:
                if obj.ident in self.done:
                    continue  # read before this message came back
                try:
                    data = _read_body(s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"])
                except _aws_errors() as exc:
                    complete = False
                    reason, creds = classify(exc)
                    failure = failure or ObjectReadError(f"s3://{obj.bucket}/{obj.key}: {reason}", creds)
                    log.warning("%s: s3://%s/%s: %s (the message comes back after its visibility timeout)",
                                self.health.name, obj.bucket, obj.key, reason)
                    continue
                self.health.files += 1
                yield from events_from_bytes(data, f"s3://{obj.bucket}/{obj.key}", self.parser, self.health)
                self._remember(obj.ident)
            if complete and self.delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        if failure is not None:
            raise failure

    def _remember(self, ident: str) -> None:
        self.done[ident] = time.time()
        if len(self.done) > MAX_REMEMBERED_KEYS:
            for old, _ in sorted(self.done.items(), key=lambda kv: kv[1])[: len(self.done) - MAX_REMEMBERED_KEYS]:
                del self.done[old]
        self._state.save({"queue": self.queue, "done": self.done})

    def reset_client(self) -> None:
        """Drop the clients, so the next poll makes new ones (fresh credentials)."""
        self._sqs = self._s3 = None
        self._url = None


def run_polling(source: S3Source | SqsSource, emit: Callable[[Event], None], stop: threading.Event,
                interval_s: float) -> None:
    """Poll ``source`` until ``stop`` is set: events go to ``emit``; a failed poll is reported in the source's
    health and retried after an exponential backoff (credentials are looked up afresh on the retry)."""
    errors = _aws_errors()
    while not stop.is_set():
        try:
            for ev in source.poll():
                emit(ev)
                if stop.is_set():
                    return
            source.backoff.reset()
            wait = interval_s
        except errors as exc:
            reason, creds = classify(exc)
            wait = source.backoff.next()
            source.health.failed(reason, credentials=creds, backoff_s=wait)
            source.reset_client()
        stop.wait(wait)
