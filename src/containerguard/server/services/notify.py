"""Notifications: targets (JSON webhook, Slack-compatible incoming webhook, syslog CEF over UDP/TCP), the rules
that pick the events each target hears about, and deliveries queued in the store.

* A target's rule: event types (empty: all), a minimum severity (findings), a minimum priority (runtime
  alerts, ``model.Priority``), and ``running_only`` (finding events only for images running on a host).
  :func:`matches` is what ``events.raise_event`` applies when it queues one :class:`Delivery` per target.
* Deliveries are sent by the ``deliver`` job (the scheduler defers it while some are due). A failed attempt
  is retried after ``backoff * 2**(attempts-1)`` seconds (capped at an hour); after ``max_attempts`` the
  delivery is *dead* and listed under ``/api/v1/notifications/deliveries?status=dead`` until retried.
  Rows are claimed before sending (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, plus a lease on
  ``next_attempt``), so several workers never send one delivery twice at once.
* Webhook URLs often carry their token in the path or query (Slack's do): the full URL is stored encrypted
  with :mod:`containerguard.server.crypto` and only a redacted form is shown.
* Syslog: RFC 5424 messages whose MSG is a CEF record; over TCP with RFC 6587 octet-counting framing. CEF
  header fields escape ``\\`` and ``|``; extension values escape ``\\``, ``=`` and line breaks, so text from
  the data (package names, alert output) can never add a field or a line.

Tuning (environment): ``CONTAINERGUARD_NOTIFY_BACKOFF`` (first retry delay, seconds, default 30),
``CONTAINERGUARD_NOTIFY_ATTEMPTS`` (attempts before a delivery is dead, default 8).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from containerguard import egress
from containerguard.model import Priority, Severity
from containerguard.server import crypto
from containerguard.server.services import Conflict, Invalid, NotFound
from containerguard.server.services import events as events_svc
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import Delivery, Event, NotificationTarget, utcnow
from containerguard.tls import client_verify

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext

KINDS = ("webhook", "slack", "syslog")
EVENT_TYPES = events_svc.TYPES  # one vocabulary: what services.events raises is what a rule can select
BATCH = 100
LEASE = dt.timedelta(seconds=120)  # a claimed delivery is not picked again for this long
MAX_BACKOFF = 3600.0
TIMEOUT = 10.0


def backoff_base() -> float:
    return float(os.environ.get("CONTAINERGUARD_NOTIFY_BACKOFF", "30"))


def send_deadline() -> float:
    """Wall-clock seconds one attempt may take, connection to last byte (a receiver that trickles its
    answer fails the attempt instead of holding the job)."""
    return max(0.1, float(os.environ.get("CONTAINERGUARD_NOTIFY_DEADLINE", "30")))


def max_attempts() -> int:
    return max(1, int(os.environ.get("CONTAINERGUARD_NOTIFY_ATTEMPTS", "8")))


def retry_delay(attempts: int, base: float | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failure: base, 2*base, 4*base, ... capped at an hour."""
    b = backoff_base() if base is None else base
    return float(min(MAX_BACKOFF, b * (2 ** max(0, attempts - 1))))


# --------------------------------------------------------------------------- rules


def matches(target: NotificationTarget, ev: Event) -> bool:
    """Whether ``ev`` is one ``target`` wants."""
    if not target.enabled:
        return False
    if target.event_types and ev.type not in target.event_types:
        return False
    detail = ev.detail or {}
    if ev.type == "runtime_alert":
        prio = detail.get("priority")  # model.Priority of the alert (the agent ingest passes it)
        if isinstance(prio, int):
            return prio >= target.min_priority
        return ev.severity >= target.min_severity
    if ev.severity < target.min_severity:
        return False
    return not (target.running_only and ev.type in ("new_finding", "new_kev_finding", "image_scanned")
                and not detail.get("running"))


def enabled_targets(session: Session) -> list[NotificationTarget]:
    return list(session.scalars(select(NotificationTarget).where(NotificationTarget.enabled.is_(True))))


def alert_threshold(session: Session) -> int:
    """The lowest alert priority an enabled target wants runtime alerts from (EMERGENCY+1 when none does)."""
    low = int(Priority.EMERGENCY) + 1
    for t in enabled_targets(session):
        if not t.event_types or "runtime_alert" in t.event_types:
            low = min(low, t.min_priority)
    return low


def queue_for(session: Session, ev: Event, targets: list[NotificationTarget] | None = None) -> int:
    """One pending delivery per enabled target whose rule matches ``ev`` (called by ``raise_event``);
    ``targets``: the enabled targets when the caller already read them (one read per batch of events)."""
    n = 0
    for target in enabled_targets(session) if targets is None else targets:
        if matches(target, ev):
            session.add(Delivery(target_id=target.id, event_id=ev.id))
            n += 1
    return n


# --------------------------------------------------------------------------- targets


def redact(url: str) -> str:
    """``scheme://host[:port]/…`` -- path, query and credentials hidden (they often are the secret)."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{p.port}" if p.port else ""
    except ValueError:
        port = ""
    rest = "/…" if (p.path not in ("", "/") or p.query or p.username or p.password) else ""
    return f"{p.scheme}://{host}{port}{rest}"


def _check_url(kind: str, url: str) -> None:
    p = urllib.parse.urlsplit(url)
    try:
        p.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise Invalid(f"target URL has an invalid port: {redact(url)}") from None
    why = egress.literal_refusal(p.hostname or "")
    if why is not None:
        raise Invalid(f"target URL {redact(url)}: {why}")
    if kind == "syslog":
        if p.scheme not in ("udp", "tcp") or not p.hostname or not p.port:
            raise Invalid("a syslog target's URL is udp://HOST:PORT or tcp://HOST:PORT")
        return
    if p.scheme not in ("http", "https") or not p.hostname:
        raise Invalid(f"a {kind} target's URL is http(s)://...")
    if any(c in url for c in "\r\n\t "):
        raise Invalid("the target URL holds whitespace")


def create_target(session: Session, actor: Actor, *, name: str, kind: str, url: str,
                  event_types: list[str] | None = None, min_severity: int = 0, min_priority: int = 0,
                  running_only: bool = False, enabled: bool = True) -> NotificationTarget:
    if kind not in KINDS:
        raise Invalid(f"unknown target kind {kind!r} (expected {', '.join(KINDS)})")
    bad = sorted(set(event_types or []) - set(EVENT_TYPES))
    if bad:
        raise Invalid(f"unknown event type {bad[0]!r} (expected {', '.join(EVENT_TYPES)})")
    _check_url(kind, url)
    if session.scalars(select(NotificationTarget.id).where(NotificationTarget.name == name)).first() is not None:
        raise Conflict(f"a notification target named {name!r} exists")
    secret = kind != "syslog"  # syslog addresses carry no secret
    row = NotificationTarget(name=name, kind=kind, url=redact(url) if secret else url,
                             url_enc=crypto.encrypt(url) if secret else "", event_types=sorted(set(event_types or [])),
                             min_severity=min_severity, min_priority=min_priority, running_only=running_only,
                             enabled=enabled, created_by=actor.label[:255])
    session.add(row)
    session.flush()
    record(session, actor, "notification_target.create", "notification_target", row.id, name=name, kind=kind,
           url=row.url, event_types=row.event_types, min_severity=min_severity, min_priority=min_priority,
           running_only=running_only)
    return row


def update_target(session: Session, actor: Actor, target_id: int, *, name: str | None = None, kind: str | None = None,
                  url: str | None = None, event_types: list[str] | None = None, min_severity: int | None = None,
                  min_priority: int | None = None, running_only: bool | None = None,
                  enabled: bool | None = None) -> tuple[NotificationTarget, list[str]]:
    """Change what was given (None: keep). The URL of a webhook or Slack target is its secret: given as None
    it keeps the stored one (re-checked against a new kind); moving between syslog and an HTTP kind needs a new
    URL. The audit entry names the fields changed and shows the URL redacted. Returns the row and the names
    of the fields that changed."""
    row = get_target(session, target_id)
    new_kind = row.kind if kind is None else kind
    if new_kind not in KINDS:
        raise Invalid(f"unknown target kind {new_kind!r} (expected {', '.join(KINDS)})")
    bad = sorted(set(event_types or []) - set(EVENT_TYPES))
    if bad:
        raise Invalid(f"unknown event type {bad[0]!r} (expected {', '.join(EVENT_TYPES)})")
    if url is None and (new_kind == "syslog") != (row.kind == "syslog"):
        raise Invalid(f"changing a {row.kind} target to {new_kind} needs its new URL")
    if name is not None and name != row.name and \
            session.scalars(select(NotificationTarget.id).where(NotificationTarget.name == name)).first() is not None:
        raise Conflict(f"a notification target named {name!r} exists")
    changed = _update_url(row, new_kind, url)
    for attr, value in (("name", name), ("kind", kind),
                        ("event_types", sorted(set(event_types)) if event_types is not None else None),
                        ("min_severity", min_severity), ("min_priority", min_priority),
                        ("running_only", running_only), ("enabled", enabled)):
        if value is not None and getattr(row, attr) != value:
            setattr(row, attr, value)
            changed.append(attr)
    if changed:
        session.flush()
        record(session, actor, "notification_target.update", "notification_target", row.id, name=row.name,
               changed=changed, kind=row.kind, url=row.url, event_types=row.event_types,
               min_severity=row.min_severity, min_priority=row.min_priority, running_only=row.running_only,
               enabled=row.enabled)
    return row, changed


def _update_url(row: NotificationTarget, kind: str, url: str | None) -> list[str]:
    """Check the URL a target will have under ``kind``; store a new one (["url"]) or keep the stored one ([]).
    A secret URL given is written whether or not it differs (it is never compared or shown)."""
    if url is None:
        _check_url(kind, crypto.decrypt(row.url_enc) if row.url_enc else row.url)
        return []
    _check_url(kind, url)
    if kind == "syslog":
        if row.url == url and not row.url_enc:
            return []
        row.url, row.url_enc = url, ""
    else:
        row.url, row.url_enc = redact(url), crypto.encrypt(url)
    return ["url"]


def get_target(session: Session, target_id: int) -> NotificationTarget:
    row = session.get(NotificationTarget, target_id)
    if row is None:
        raise NotFound(f"no notification target {target_id}")
    return row


def list_targets(session: Session) -> list[NotificationTarget]:
    return list(session.scalars(select(NotificationTarget).order_by(NotificationTarget.name)))


def delete_target(session: Session, actor: Actor, target_id: int) -> NotificationTarget:
    row = get_target(session, target_id)
    session.delete(row)  # its deliveries go with it (ON DELETE CASCADE; also in the ORM below)
    for d in session.scalars(select(Delivery).where(Delivery.target_id == target_id)):
        session.delete(d)
    record(session, actor, "notification_target.delete", "notification_target", target_id, name=row.name)
    return row


def set_enabled(session: Session, actor: Actor, target_id: int, enabled: bool) -> NotificationTarget:
    row = get_target(session, target_id)
    row.enabled = enabled
    record(session, actor, "notification_target.enable" if enabled else "notification_target.disable",
           "notification_target", target_id, name=row.name)
    return row


def target_dict(t: NotificationTarget, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "kind": t.kind, "url": t.url, "event_types": list(t.event_types or []),
            "min_severity": Severity(t.min_severity).name.lower() if t.min_severity in Severity._value2member_map_
            else str(t.min_severity),
            "min_priority": Priority(t.min_priority).name.lower() if t.min_priority in Priority._value2member_map_
            else str(t.min_priority),
            "running_only": t.running_only, "enabled": t.enabled, "created_by": t.created_by,
            "created_at": t.created_at.isoformat(), "deliveries": counts or {}}


def delivery_counts(session: Session) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for tid, status, n in session.execute(select(Delivery.target_id, Delivery.status, func.count())
                                          .group_by(Delivery.target_id, Delivery.status)):
        out.setdefault(tid, {})[status] = int(n)
    return out


# --------------------------------------------------------------------------- deliveries


def list_deliveries(session: Session, *, status: str | None = None, target_id: int | None = None,
                    limit: int = 100) -> list[tuple[Delivery, NotificationTarget, Event]]:
    q = (select(Delivery, NotificationTarget, Event).join(NotificationTarget, NotificationTarget.id == Delivery.target_id)
         .join(Event, Event.id == Delivery.event_id).order_by(Delivery.id.desc()).limit(limit))
    if status:
        q = q.where(Delivery.status == status)
    if target_id is not None:
        q = q.where(Delivery.target_id == target_id)
    return [(d, t, e) for d, t, e in session.execute(q)]


def delivery_dict(d: Delivery, t: NotificationTarget, e: Event) -> dict[str, Any]:
    return {"id": d.id, "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "next_attempt": d.next_attempt.isoformat() if d.status == "pending" else None,
            "created_at": d.created_at.isoformat(), "last_attempt": d.last_attempt.isoformat() if d.last_attempt else None,
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            "target": {"id": t.id, "name": t.name, "kind": t.kind},
            "event": {"id": e.id, "type": e.type, "summary": e.summary, "at": e.at.isoformat()}}


def retry_delivery(session: Session, actor: Actor, delivery_id: int) -> Delivery:
    d = session.get(Delivery, delivery_id)
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    if d.status == "sent":
        raise Conflict(f"delivery {delivery_id} was sent already")
    d.status, d.attempts, d.next_attempt = "pending", 0, utcnow()
    record(session, actor, "notification_delivery.retry", "delivery", delivery_id, target_id=d.target_id)
    return d


def test_event(session: Session, actor: Actor, target_id: int) -> Delivery:
    """A ``test`` event queued for this one target only (whatever its rule), to check the wiring."""
    t = get_target(session, target_id)
    ev = Event(type="test", summary=f"ContainerGuard test notification for target {t.name}",
               severity=int(Severity.LOW), detail={"requested_by": actor.label})
    session.add(ev)
    session.flush()
    d = Delivery(target_id=t.id, event_id=ev.id)
    session.add(d)
    session.flush()
    record(session, actor, "notification_target.test", "notification_target", t.id, name=t.name)
    return d


def dead_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "dead")) or 0)


def has_due(session: Session) -> bool:
    return session.scalars(select(Delivery.id).where(Delivery.status == "pending",
                                                     Delivery.next_attempt <= utcnow()).limit(1)).first() is not None


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    kind: str
    url: str
    event: dict[str, Any]
    target_id: int = 0


def event_dict(e: Event) -> dict[str, Any]:
    sev = Severity(e.severity).name.lower() if e.severity in Severity._value2member_map_ else str(e.severity)
    return {"id": e.id, "type": e.type, "at": e.at.isoformat(), "severity": sev, "summary": e.summary,
            "image_digest": e.image_digest, "host": e.host, "detail": e.detail or {}}


def _claim(session: Session, limit: int) -> list[Outgoing]:
    """Claim up to ``limit`` due deliveries. Each target's deliveries are sent one after another, so the
    lease of the n-th one of a target covers n attempts at their deadline: no other worker picks a delivery
    up while this one may still be about to send it."""
    now = utcnow()
    q = (select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt <= now)
         .order_by(Delivery.next_attempt, Delivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    out = []
    per_target: dict[int, int] = {}
    for d in session.scalars(q):
        t = session.get(NotificationTarget, d.target_id)
        e = session.get(Event, d.event_id)
        if t is None or e is None:
            continue
        n = per_target[t.id] = per_target.get(t.id, 0) + 1
        d.next_attempt = now + max(LEASE, dt.timedelta(seconds=n * send_deadline()) + LEASE)
        d.last_attempt = now
        d.attempts += 1
        url = crypto.decrypt(t.url_enc) if t.url_enc else t.url
        out.append(Outgoing(d.id, t.kind, url, event_dict(e), t.id))
    return out


def deliver_due(ctx: JobContext, limit: int = BATCH) -> dict[str, Any]:
    """Send every due delivery (in batches of ``limit``); returns counts. Targets are served side by side
    (a slow or dead receiver holds up no other); within a target, in order, and the first failure ends that
    target's turn: its remaining claimed deliveries go back unattempted, due at the failed one's retry."""
    from concurrent.futures import ThreadPoolExecutor

    counts = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
    while True:
        with ctx.tx() as s:
            batch = _claim(s, limit)
        if not batch:
            break
        groups: dict[int, list[Outgoing]] = {}
        for o in batch:
            groups.setdefault(o.target_id, []).append(o)
        with ThreadPoolExecutor(max_workers=min(8, len(groups)), thread_name_prefix="cg-notify") as pool:
            for got in pool.map(lambda g: _deliver_target(ctx, g), list(groups.values())):
                for k, v in got.items():
                    counts[k] += v
        if len(batch) < limit:
            break
    return counts


def _deliver_target(ctx: JobContext, group: list[Outgoing]) -> dict[str, int]:
    counts = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
    for i, o in enumerate(group):
        try:
            send(o.kind, o.url, o.event, delivery_id=o.delivery_id)
            error = ""
        except Exception as exc:  # any failure of the remote end is a failed attempt, never a lost one
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
        with ctx.tx() as s:
            d = s.get(Delivery, o.delivery_id)
            if d is None:
                continue
            if not error:
                d.status, d.sent_at, d.last_error = "sent", utcnow(), ""
                counts["sent"] += 1
                continue
            retry_at = utcnow() + dt.timedelta(seconds=retry_delay(d.attempts))
            if d.attempts >= max_attempts():
                d.status, d.last_error = "dead", error
                counts["dead"] += 1
            else:
                d.last_error, d.next_attempt = error, retry_at
                counts["failed"] += 1
            for rest in group[i + 1:]:  # not tried this turn: the attempt claimed for it is given back
                r = s.get(Delivery, rest.delivery_id)
                if r is not None and r.status == "pending":
                    r.attempts, r.next_attempt = max(0, r.attempts - 1), retry_at
                    counts["deferred"] += 1
        if error:
            break
    return counts


# --------------------------------------------------------------------------- payloads and transports


def webhook_payload(event: dict[str, Any], delivery_id: int = 0) -> dict[str, Any]:
    from containerguard import __version__

    return {"source": "containerguard", "version": __version__, "delivery_id": delivery_id, "event": event}


def slack_escape(text: str) -> str:
    """Slack's three control characters (its formatting docs): & < > as entities; nothing else is markup in
    ``text`` that a receiver could turn into a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: dict[str, Any]) -> dict[str, Any]:
    sev = event["severity"].upper()
    head = f"[{sev}] {event['type'].replace('_', ' ')}"
    body = slack_escape(event["summary"][:2900])
    fields = [f"*{k}:* {slack_escape(str(v))[:300]}" for k, v in (("image", event["image_digest"]),
                                                                    ("host", event["host"])) if v]
    text = f"{slack_escape(head)}: {body}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{slack_escape(head)}*\n{body}"}}]
    if fields:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(fields)}]})
    return {"text": text, "blocks": blocks}


def send(kind: str, url: str, event: dict[str, Any], *, delivery_id: int = 0) -> None:
    """Send one event; raises on any failure (non-2xx answer, refused connection, timeout). One attempt takes
    at most :func:`send_deadline` seconds however slowly the receiver answers; redirects are not followed; the
    connection passes the egress policy (:mod:`containerguard.egress`)."""
    if kind == "syslog":
        send_syslog(url, event)
        return
    import httpx

    from containerguard import __version__

    payload = slack_payload(event) if kind == "slack" else webhook_payload(event, delivery_id)
    headers = {"User-Agent": f"ContainerGuard/{__version__}", "X-ContainerGuard-Event": event["type"],
               "X-ContainerGuard-Delivery": str(delivery_id)}
    transport = egress.http_transport(deadline=send_deadline(), verify=client_verify())
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport) as c, \
            c.stream("POST", url, content=json.dumps(payload).encode(),
                     headers={**headers, "Content-Type": "application/json"}) as r:
        if not 200 <= r.status_code < 300:
            head = b""
            for chunk in r.iter_raw(256):  # only what the error message shows, never a huge or endless body
                head += chunk
                if len(head) >= 200:
                    break
            raise RuntimeError(f"HTTP {r.status_code} from {redact(url)}: {head[:200].decode(errors='replace')!r}")


_KEY = re.compile(r"[^A-Za-z0-9]")


def cef_header(text: str) -> str:
    """A CEF header field: backslash and pipe escaped, line breaks flattened (the spec allows no escape for them)."""
    return re.sub(r"[\r\n]+", " ", text.replace("\\", "\\\\").replace("|", "\\|"))


def cef_value(text: str) -> str:
    """A CEF extension value: backslash, equals sign and line breaks escaped (CEF spec, "Character encoding")."""
    return (text.replace("\\", "\\\\").replace("=", "\\=").replace("\r\n", "\\n").replace("\n", "\\n")
            .replace("\r", "\\r"))


CEF_SEVERITY = {0: 1, 1: 2, 2: 3, 3: 5, 4: 8, 5: 10}  # model.Severity -> CEF 0..10
SYSLOG_SEVERITY = {0: 6, 1: 6, 2: 5, 3: 4, 4: 3, 5: 2}  # model.Severity -> RFC 5424 (2 critical .. 6 info)
FACILITY = 16  # local0


def cef_record(event: dict[str, Any]) -> str:
    from containerguard import __version__

    sev_num = {s.name.lower(): int(s) for s in Severity}.get(event["severity"], 0)
    ext = {"rt": str(int(dt.datetime.fromisoformat(event["at"]).timestamp() * 1000)),
           "msg": event["summary"][:4000], "externalId": str(event["id"]), "cat": event["type"]}
    if event["host"]:
        ext["dhost"] = event["host"]
    if event["image_digest"]:
        ext["cs1Label"], ext["cs1"] = "imageDigest", event["image_digest"]
    detail = event.get("detail") or {}
    for label, key, slot in (("vulnId", "vuln_id", "cs2"), ("rule", "rule", "cs3"), ("container", "container", "cs4"),
                             ("image", "image", "cs5")):
        if detail.get(key):
            ext[f"{slot}Label"], ext[slot] = label, str(detail[key])[:1000]
    head = "|".join(cef_header(x) for x in ("CEF:0", "ContainerGuard", "ContainerGuard", __version__,
                                             event["type"], event["summary"][:200], str(CEF_SEVERITY.get(sev_num, 1))))
    return head + "|" + " ".join(f"{_KEY.sub('', k)}={cef_value(v)}" for k, v in ext.items())


def syslog_message(event: dict[str, Any]) -> bytes:
    """RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`` with the CEF record as MSG."""
    sev_num = {s.name.lower(): int(s) for s in Severity}.get(event["severity"], 0)
    pri = FACILITY * 8 + SYSLOG_SEVERITY.get(sev_num, 6)
    host = re.sub(r"[^\x21-\x7e]", "", socket.gethostname())[:255] or "-"
    msgid = re.sub(r"[^\x21-\x7e]", "", event["type"])[:32] or "-"
    ts = dt.datetime.fromisoformat(event["at"]).astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<{pri}>1 {ts} {host} containerguard {os.getpid()} {msgid} - {cef_record(event)}".encode()


def send_syslog(url: str, event: dict[str, Any]) -> None:
    p = urllib.parse.urlsplit(url)
    host, port = p.hostname or "", p.port or 514
    msg = syslog_message(event)
    if p.scheme == "udp":
        with egress.connect(host, port, TIMEOUT, socket.SOCK_DGRAM) as s:
            s.send(msg[:65000])
        return
    with egress.connect(host, port, TIMEOUT) as s:
        s.sendall(str(len(msg)).encode() + b" " + msg)  # RFC 6587 octet counting
