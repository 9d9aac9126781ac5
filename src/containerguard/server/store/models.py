"""The server's tables (SQLAlchemy 2 declarative, typed). Alembic migrations under ``migrations/`` create them;
never ``create_all`` outside tests of the migrations themselves.

Identity of an image is its **config digest** (``sha256:`` of the image config, what ``docker inspect``
calls the image ID and what the agent reports for a running container); the registry's manifest digests
and the names/tags that pointed at it live in :class:`ImageName`. An uploaded inventory is stored once per
image (deduplicated by digest); findings are the latest match of that inventory.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_MIN_UTC = dt.datetime.min.replace(tzinfo=dt.UTC)
_MAX_UTC = dt.datetime.max.replace(tzinfo=dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (naive: taken as UTC), clamped to what a datetime can hold: an offset at the edge of
    the range (``9999-12-31T23:00-05:00`` is in the year 10000 in UTC) is the range's end, not an overflow
    (SQLite) or a value stored that can never be read back (PostgreSQL takes it, psycopg cannot read it)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return _MAX_UTC if value.year > 1 else _MIN_UTC


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps on every backend (SQLite stores naive values: read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# --------------------------------------------------------------------------- images


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), unique=True)  # config digest sha256:...
    #: the most recent name it was seen under (display only; ImageName keeps every name)
    name: Mapped[str] = mapped_column(String(512), default="")
    os_family: Mapped[str] = mapped_column(String(40), default="")
    os_version: Mapped[str] = mapped_column(String(40), default="")
    architecture: Mapped[str] = mapped_column(String(40), default="")
    #: ci (uploaded, digest claimed) | registry (pulled by the server, digest verified)
    source: Mapped[str] = mapped_column(String(16), default="ci")
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    scanned_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    package_count: Mapped[int] = mapped_column(Integer, default=0)
    # finding counts by severity and the highest risk, kept by ingest/rescan so lists need no aggregation
    critical: Mapped[int] = mapped_column(Integer, default=0)
    high: Mapped[int] = mapped_column(Integer, default=0)
    medium: Mapped[int] = mapped_column(Integer, default=0)
    low: Mapped[int] = mapped_column(Integer, default=0)
    other: Mapped[int] = mapped_column(Integer, default=0)
    kev: Mapped[int] = mapped_column(Integer, default=0)
    max_risk: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (Index("ix_images_max_risk", "max_risk"), Index("ix_images_last_seen", "last_seen"))


class ImageName(Base):
    """A name (registry/repository:tag) or manifest digest that pointed at an image, and when."""

    __tablename__ = "image_names"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(512))  # registry/repository (no tag)
    tag: Mapped[str] = mapped_column(String(200), default="")
    manifest_digest: Mapped[str] = mapped_column(String(80), default="", index=True)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # migration 1101_image_platforms: a tag that points at a multi-platform index names the index here (the
    # tag's target) and each platform's manifest in ``manifest_digest``, one row per platform image
    index_digest: Mapped[str] = mapped_column(String(80), default="", index=True)
    platform: Mapped[str] = mapped_column(String(64), default="")  # os/arch[/variant] as the index declares it

    __table_args__ = (UniqueConstraint("image_id", "repository", "tag", "manifest_digest"),
                      Index("ix_image_names_repository", "repository", "tag"),
                      # migration 1203_image_search: the search matches a tag exactly; its substring matches of
                      # names go through a trigram index kept outside the models (SQLite FTS5 table
                      # ``image_search`` and its triggers; PostgreSQL pg_trgm GIN indexes): services.images.search
                      Index("ix_image_names_tag", "tag"))


class Inventory(Base):
    """The SBOM of an image: the native JSON document (zstd), stored once per image digest."""

    __tablename__ = "inventories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the packages part, for dedup and forgery checks
    document: Mapped[bytes] = mapped_column(LargeBinary)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)  # pulled by the server itself
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    matched_db: Mapped[str] = mapped_column(String(64), default="")  # the vulndb build it was last matched with


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    #: stable identity within the image: kind|id|package purl or name@version|path
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    vuln_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[int] = mapped_column(Integer)  # model.Severity value
    package_name: Mapped[str] = mapped_column(String(256), default="")
    package_version: Mapped[str] = mapped_column(String(128), default="")
    package_type: Mapped[str] = mapped_column(String(32), default="")
    purl: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text, default="")
    fixed_version: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(32), default="")
    cvss_score: Mapped[float | None] = mapped_column(Float, default=None)
    epss: Mapped[float | None] = mapped_column(Float, default=None)
    kev: Mapped[bool] = mapped_column(Boolean, default=False)
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: migration 1200_finding_cover: until when an exception covers the finding (the latest expiry among the
    #: non-revoked exceptions that name it; ``services.exceptions.NEVER`` for one without expiry; NULL: none).
    #: Kept by services.exceptions.refresh_cover whenever exceptions, findings or image names change, so "open"
    #: is a column test (``services.exceptions.is_open``) and not a correlated search per finding.
    excepted_until: Mapped[dt.datetime | None] = mapped_column(default=None)

    # lists order by (risk DESC, id DESC) and page with a (risk, id) cursor: the indexes end in id (1100_list_indexes)
    __table_args__ = (UniqueConstraint("image_id", "fingerprint"),
                      Index("ix_findings_image_risk_id", "image_id", "risk", "id"),
                      Index("ix_findings_vuln_id", "vuln_id"),
                      Index("ix_findings_severity_risk", "severity", "risk"),
                      Index("ix_findings_risk_id", "risk", "id"),
                      Index("ix_findings_first_seen", "first_seen"),  # the console's "new since the last DB update"
                      Index("ix_findings_kev_risk_id", "kev", "risk", "id"),
                      Index("ix_findings_excepted_until", "excepted_until"))


# --------------------------------------------------------------------------- hosts and runtime


class Host(Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    agent_version: Mapped[str] = mapped_column(String(64), default="")


class Container(Base):
    __tablename__ = "containers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    container_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    image: Mapped[str] = mapped_column(String(512), default="")  # the name it runs with
    image_digest: Mapped[str] = mapped_column(String(80), default="", index=True)  # config digest (image id)
    privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    mounts: Mapped[list[Any]] = mapped_column(default=list)
    ports: Mapped[list[Any]] = mapped_column(default=list)
    network_mode: Mapped[str] = mapped_column(String(64), default="")
    # migration 1102_container_namespaces: host PID/IPC namespaces and a read-only root (the risk view reads them)
    pid_mode: Mapped[str] = mapped_column(String(80), default="")
    ipc_mode: Mapped[str] = mapped_column(String(80), default="")
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    running: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("host_id", "container_id"),)


class Baseline(Base):
    """A behavioural baseline an agent keeps (runtime/baseline), as its host last reported it: the workload, its
    mode and size. The agent's own store is the truth; a report replaces its host's rows."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    workload: Mapped[str] = mapped_column(String(512))
    image: Mapped[str] = mapped_column(String(512), default="")
    image_digest: Mapped[str] = mapped_column(String(80), default="", index=True)
    name_pattern: Mapped[str] = mapped_column(String(512), default="")
    mode: Mapped[str] = mapped_column(String(16), default="learn")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: entries per kind: {"process": n, "file": n, "network": n, "syscall": n}
    entries: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deviations: Mapped[int] = mapped_column(Integer, default=0)
    #: when the workload last learned something new (its quiet period counts from here)
    last_change: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("host_id", "workload"),)


class AgentBatch(Base):
    """Batches an agent sent, so a replayed batch is acknowledged again and stored nothing twice."""

    __tablename__ = "agent_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    alerts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("host_id", "batch_id"),)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(64))  # agent-assigned, unique per host: the dedup key
    time: Mapped[dt.datetime] = mapped_column()
    rule: Mapped[str] = mapped_column(String(255))
    rule_id: Mapped[str] = mapped_column(String(128), default="")
    priority: Mapped[int] = mapped_column(Integer)  # model.Priority value (0 debug .. 7 emergency; higher is more urgent)
    source: Mapped[str] = mapped_column(String(32), default="syscall")
    output: Mapped[str] = mapped_column(Text, default="")
    container_id: Mapped[str] = mapped_column(String(64), default="")
    container_name: Mapped[str] = mapped_column(String(255), default="")
    image: Mapped[str] = mapped_column(String(512), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("host_id", "uid"), Index("ix_alerts_time", "time"),
                      Index("ix_alerts_host_time", "host_id", "time"))


# --------------------------------------------------------------------------- people's decisions


class FindingException(Base):
    """An accepted risk or a false positive: scope finding (vuln in one image's package), image, repository
    or global; lapses at ``expires_at``; revoked ones stay for the record."""

    __tablename__ = "exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vuln_id: Mapped[str] = mapped_column(String(128), index=True)
    scope: Mapped[str] = mapped_column(String(16))  # finding | image | repository | global
    image_digest: Mapped[str] = mapped_column(String(80), default="")
    repository: Mapped[str] = mapped_column(String(512), default="")
    package_name: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(String(24))  # risk_accepted | false_positive
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))  # token name (role)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(255), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a token in lists
    host: Mapped[str] = mapped_column(String(255), default="")  # agent tokens: the one host they speak for
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


# --------------------------------------------------------------------------- registries, events, notifications


class Registry(Base):
    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(String(512))  # https://host[:port] (or http:// with insecure)
    username: Mapped[str] = mapped_column(String(255), default="")
    password_enc: Mapped[str] = mapped_column(Text, default="")  # Fernet token (key from the environment)
    repositories: Mapped[list[Any]] = mapped_column(default=list)  # glob filters; empty = all
    interval: Mapped[int] = mapped_column(Integer, default=3600)  # seconds between polls; 0 = never
    webhook_secret_hash: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_polled: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Event(Base):
    """Something a person may want to hear about: new (KEV/critical) finding, runtime alert, scan failure."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[int] = mapped_column(Integer, default=0)  # model.Severity value
    summary: Mapped[str] = mapped_column(Text)
    image_digest: Mapped[str] = mapped_column(String(80), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NotificationTarget(Base):
    __tablename__ = "notification_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | slack | syslog
    url: Mapped[str] = mapped_column(String(1024))  # http(s)://... or udp://host:port / tcp://host:port
    event_types: Mapped[list[Any]] = mapped_column(default=list)  # empty = all
    min_severity: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # migration 0300_notify: the full URL (webhook URLs carry tokens) encrypted with crypto (Fernet); ``url``
    # then holds a redacted form for display. Runtime alerts notify from ``min_priority`` (model.Priority);
    # ``running_only``: finding events only for images running on a host.
    url_enc: Mapped[str] = mapped_column(Text, default="")
    min_priority: Mapped[int] = mapped_column(Integer, default=0)
    running_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(255), default="")


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("notification_targets.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # migration 0300_notify
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt: Mapped[dt.datetime | None] = mapped_column(default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("target_id", "event_id"),)


class JobRun(Base):
    """What the job engine ran, for the API and the metrics (the engine's own tables hold the queue)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    worker: Mapped[str] = mapped_column(String(128), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Setting(Base):
    """Small server state: the vulndb build last matched, the bootstrap marker."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# --------------------------------------------------------------------------- the web console (migration 0100_console)
#
# A console session row is keyed by the SHA-256 of the cookie's random id and hangs on the token or user that
# opened it (ON DELETE CASCADE); loading a session goes back to that credential on every request, so a revoked
# token, a disabled user or an expired session logs the browser out at once.


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id (argon2-cffi), parameters in the hash
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's session id
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), default=None, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class AlertAck(Base):
    __tablename__ = "alert_acks"

    alert_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SeverityResolved(Base):
    """How many findings of a severity bucket first seen on ``first_day`` stopped being stored (fixed, or gone
    from a rescan's match) on ``resolved_day`` (migration 1202_trend_resolved; written by
    ``services.images.replace_findings_many``). With the stored findings it tells what was open on any past
    day -- first seen <= day < resolved -- which the trend's backfill needs; aggregated, so it stays small."""

    __tablename__ = "severity_resolved"

    first_day: Mapped[dt.date] = mapped_column(primary_key=True)
    resolved_day: Mapped[dt.date] = mapped_column(primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)  # a services.trend.SEVERITIES bucket
    count: Mapped[int] = mapped_column(Integer, default=0)


class SeverityDaily(Base):
    """Findings by severity across all images, one row per day, for the 30-day trend (services.trend: written
    after each ingest and rescan, backfilled from first-seen times on a store without earlier days)."""

    __tablename__ = "severity_daily"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    critical: Mapped[int] = mapped_column(Integer, default=0)
    high: Mapped[int] = mapped_column(Integer, default=0)
    medium: Mapped[int] = mapped_column(Integer, default=0)
    low: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)


class PolicyViolation(Base):
    """One violation of a policy as code (docs/policies.md), reported by a CI scan (`scan --policy --server`)
    or another enforcement point: which policy, at which stage, on what, with which action."""

    __tablename__ = "policy_violations"
    __table_args__ = (Index("ix_policy_violations_policy_recorded", "policy_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    stage: Mapped[str] = mapped_column(String(16))  # build | deploy | runtime
    source: Mapped[str] = mapped_column(String(16))  # scan | admission | authz | agent
    reporter: Mapped[str] = mapped_column(String(255))  # the token's name
    image_name: Mapped[str] = mapped_column(String(512), default="")
    image_digest: Mapped[str] = mapped_column(String(80), default="", index=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(1024))
    message: Mapped[str] = mapped_column(Text)
    remediation: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    # migration 0400_policy_reports: decisions reported by the admission webhook, the Docker plugin and agents
    decision_uid: Mapped[str] = mapped_column(String(64), default="", index=True)  # the violations of one decision
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # the enforcement point's clock
    instance: Mapped[str] = mapped_column(String(255), default="")  # which webhook replica, plugin or agent host
    namespace: Mapped[str] = mapped_column(String(255), default="", index=True)
    object_kind: Mapped[str] = mapped_column(String(64), default="")  # Deployment, Pod, container, exec
    object_name: Mapped[str] = mapped_column(String(255), default="")  # workload or container name
    container: Mapped[str] = mapped_column(String(255), default="")  # container id (Docker, agent)
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)  # what the enforcement point answered
    mode: Mapped[str] = mapped_column(String(16), default="")  # enforce | warn | dry-run
    responses: Mapped[list[Any]] = mapped_column(default=list)  # runtime: what was done (kill_container ...: ok)
    user: Mapped[str] = mapped_column(String(255), default="")  # who asked (Kubernetes or Docker user)


class PolicyReportBatch(Base):
    """Batches of decisions an enforcement point sent: a replayed batch is acknowledged and stores nothing."""

    __tablename__ = "policy_report_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter: Mapped[str] = mapped_column(String(255))  # the token's name
    batch_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decisions: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("reporter", "batch_id"),)


class PolicyEnforcer(Base):
    """An enforcement point that reports decisions: when it last reported, with which policy set, and its
    decision counts (allowed decisions are counted there, not stored one by one)."""

    __tablename__ = "policy_enforcers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # admission | authz | agent
    instance: Mapped[str] = mapped_column(String(255))
    reporter: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64), default="")
    policy_set: Mapped[str] = mapped_column(String(64), default="")
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    allowed: Mapped[int] = mapped_column(BigInteger, default=0)
    denied: Mapped[int] = mapped_column(BigInteger, default=0)
    warned: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("source", "instance", "reporter"),)


class PolicyFile(Base):
    """The policy set held by the server (`containerguard policy push DIR`): one row per file, replaced as a
    whole on each push; enforcement points fetch it (``--policy-from-server``)."""

    __tablename__ = "policy_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)  # relative path in the pushed directory
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    pushed_by: Mapped[str] = mapped_column(String(255), default="")
    pushed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

