"""Audit-log sources by name: ``KIND:LOCATION`` specs, finite reads for ``rules replay``, threads for the agent.

Kinds (:data:`KINDS`): ``cloudtrail`` (rule source ``aws_cloudtrail``), ``gcp`` (``gcp_auditlog``),
``azure`` (``azure_activitylog``) and ``k8s_audit``. Locations: a file or a directory (read incrementally,
polled), and for CloudTrail also ``s3://BUCKET/PREFIX`` and ``sqs:QUEUE`` (a queue name or URL).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from containerguard.errors import UsageError
from containerguard.model import Alert, Event
from containerguard.runtime.cloud.azure import AzureActivityParser
from containerguard.runtime.cloud.cloudtrail import CloudTrailParser
from containerguard.runtime.cloud.gcp import GcpAuditParser
from containerguard.runtime.cloud.health import SourceHealth
from containerguard.runtime.cloud.reader import (
    DirectoryState,
    Evaluated,
    Parser,
    ReadPool,
    evaluate_directory,
)
from containerguard.runtime.k8saudit import K8sAuditParser

log = logging.getLogger(__name__)

#: source kind (what --source names) -> (parser factory, the rule source its events carry)
KINDS: dict[str, tuple[Callable[[], Parser], str]] = {
    "cloudtrail": (CloudTrailParser, "aws_cloudtrail"),
    "gcp": (GcpAuditParser, "gcp_auditlog"),
    "azure": (AzureActivityParser, "azure_activitylog"),
    "k8s_audit": (K8sAuditParser, "k8s_audit"),
}
#: other spellings accepted for a kind (the rule-source names among them)
ALIASES = {"aws_cloudtrail": "cloudtrail", "gcp_auditlog": "gcp", "gcpaudit": "gcp", "gcp_audit": "gcp",
           "azure_activitylog": "azure", "azure_activity": "azure", "k8saudit": "k8s_audit"}


def kind_of(name: str) -> str:
    """The canonical kind for ``name`` (cloudtrail, gcp, azure, k8s_audit); UsageError when unknown."""
    k = ALIASES.get(name, name)
    if k not in KINDS:
        raise UsageError(f"unknown source kind {name!r} (known: {', '.join(KINDS)})")
    return k


def parser_for(kind: str) -> Parser:
    """The record parser for a source kind (cloudtrail, gcp, azure, k8s_audit)."""
    return KINDS[kind_of(kind)][0]()


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--source KIND:LOCATION``."""

    kind: str
    location: str

    @property
    def scheme(self) -> str:
        """How the location is read: s3, sqs or file."""
        if self.location.startswith("s3://"):
            return "s3"
        if self.location.startswith("sqs:"):
            return "sqs"
        return "file"

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"


def parse_source(spec: str) -> SourceSpec:
    """``cloudtrail:/var/log/ct``, ``cloudtrail:s3://bucket/AWSLogs/``, ``cloudtrail:sqs:my-queue``, ``gcp:FILE``."""
    kind, sep, location = spec.partition(":")
    if not sep or not location:
        raise UsageError(f"--source {spec!r}: expected KIND:LOCATION, e.g. cloudtrail:/var/log/cloudtrail "
                         f"(kinds: {', '.join(KINDS)})")
    k = kind_of(kind)
    out = SourceSpec(k, location)
    if out.scheme in ("s3", "sqs") and k != "cloudtrail":
        raise UsageError(f"--source {spec!r}: S3 and SQS locations are read for cloudtrail only")
    if out.scheme == "s3" and not location[5:].split("/", 1)[0]:
        raise UsageError(f"--source {spec!r}: s3:// needs a bucket name")
    if out.scheme == "sqs" and not location[4:]:
        raise UsageError(f"--source {spec!r}: sqs: needs a queue name or URL")
    return out


def replay(kind: str, paths: list[Path], health: SourceHealth | None = None) -> Iterator[Event]:
    """Every event in the given files or directories (directories recursively, in path order), once."""
    for ev, _ in replay_evaluated(kind, paths, health):
        yield ev


def replay_evaluated(kind: str, paths: list[Path], health: SourceHealth | None = None, *,
                     pool: ReadPool | None = None) -> Iterator[Evaluated]:
    """As :func:`replay`, files read by ``pool`` when given: (event, alerts) pairs, alerts None when the event
    is to be evaluated by the caller (see :func:`~containerguard.runtime.cloud.reader.evaluate_directory`)."""
    parser = parser_for(kind)
    h = health or SourceHealth(kind, kind)
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    for p in paths:
        yield from evaluate_directory(p, parser, h, DirectoryState(live=False), pool=pool)


class RunningSource:
    """One source on its own thread, handing each event to ``emit`` until stopped."""

    def __init__(self, spec: SourceSpec, emit: Callable[[Event], None], *, interval_s: float = 10.0,
                 state_dir: Path | None = None, pool: ReadPool | None = None,
                 emit_evaluated: Callable[[Event, list[Alert]], None] | None = None,
                 count: Callable[[int], None] | None = None) -> None:
        """``emit`` gets each event to evaluate. With a ``pool`` whose workers evaluate the rules (files and
        directories only), ``emit_evaluated`` gets the events that alerted there with their alerts, and
        ``count`` the number of events evaluated there that gave none."""
        self.spec = spec
        self.emit = emit
        self.pool = pool if spec.scheme == "file" and emit_evaluated is not None else None
        self.emit_evaluated = emit_evaluated
        self.count = count
        self.interval_s = interval_s
        self.health = SourceHealth(str(spec), spec.kind)
        self.parser = parser_for(spec.kind)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        digest = hashlib.sha256(str(spec).encode()).hexdigest()[:16]
        self.state_path = state_dir / f"{spec.kind}-{digest}.json" if state_dir is not None else None

    def start(self) -> None:
        """Start the reading thread."""
        self._thread = threading.Thread(target=self._run, name=f"cg-source-{self.spec.kind}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reading thread (waiting up to ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.health.status = "stopped"

    def _run(self) -> None:
        try:
            if self.spec.scheme == "file":
                self._run_files()
            else:
                self._run_aws()
        except Exception as exc:  # a source's bug must not pass silently: it shows in health
            log.exception("source %s stopped", self.spec)
            self.health.failed(f"source stopped: {type(exc).__name__}: {exc}")

    def _run_files(self) -> None:
        root = Path(self.spec.location)
        state = DirectoryState()
        while not self._stop.is_set():
            if root.exists():
                before, handed = self.health.events, 0
                for ev, alerts in evaluate_directory(root, self.parser, self.health, state, pool=self.pool):
                    handed += 1
                    if alerts is None:
                        self.emit(ev)
                    elif self.emit_evaluated is not None:
                        self.emit_evaluated(ev, alerts)
                    if self._stop.is_set():
                        return
                if self.count is not None and self.health.events - before > handed:
                    self.count(self.health.events - before - handed)
            else:
                self.health.failed(f"{root}: no such file or directory", backoff_s=self.interval_s)
            self._stop.wait(self.interval_s)

    def _run_aws(self) -> None:
        from containerguard.runtime.cloud.aws import S3Source, SqsSource, run_polling

        src: S3Source | SqsSource
        if self.spec.scheme == "s3":
            bucket, _, prefix = self.spec.location[5:].partition("/")
            src = S3Source(bucket, prefix, self.parser, self.health, state_path=self.state_path)
        else:
            src = SqsSource(self.spec.location[4:], self.parser, self.health,
                            wait_s=max(0, min(20, int(self.interval_s))), state_path=self.state_path)
        run_polling(src, self.emit, self._stop, self.interval_s if self.spec.scheme == "s3" else 0.0)
