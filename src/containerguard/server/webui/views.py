"""The console's read models: what each page shows, computed from the server's store in a few indexed
queries, each bounded (a page never loads more than one screen of rows: ``PAGE_ROWS``).

Lists and single objects come from the service layer (``server.services``) where it has them; what only a
person's screen needs (the dashboard's aggregates, a finding's "why", exposure words, the process tree)
is here, as read-only queries. Nothing here writes but the actions (acknowledge).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from containerguard.model import Priority, Severity
from containerguard.server.services import exceptions as exc_svc
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import (
    Alert,
    AlertAck,
    ApiToken,
    AuditEntry,
    Container,
    Finding,
    Host,
    Image,
    ImageName,
    Registry,
    Setting,
    utcnow,
)
from containerguard.server.webui.charts import TrendPoint

PAGE_ROWS = 50

SEV_NAME = {int(s): s.name.lower() for s in Severity}
SEV_NAME[int(Severity.NEGLIGIBLE)] = "low"
SEV_VALUE = {"critical": int(Severity.CRITICAL), "high": int(Severity.HIGH), "medium": int(Severity.MEDIUM),
             "low": int(Severity.LOW), "unknown": int(Severity.UNKNOWN)}
PRIORITY_NAME = {int(p): p.name.lower() for p in Priority}
PRIORITIES = [p.name.lower() for p in sorted(Priority, reverse=True)]


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[Any]
    number: int
    total: int | None
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def pages(self) -> int:
        return max(1, -(-(self.total or 0) // PAGE_ROWS))


def page_number(raw: str | None) -> int:
    try:
        n = int(raw or 1)
    except ValueError:
        return 1
    return min(max(n, 1), 100_000)


def advisory_url(vuln_id: str) -> str:
    """Where a person reads the advisory: NVD for CVEs, GitHub for GHSAs, OSV for the rest."""
    from urllib.parse import quote

    v = vuln_id.strip()
    if v.upper().startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{quote(v.upper())}"
    if v.upper().startswith("GHSA-"):
        return f"https://github.com/advisories/{quote(v)}"
    return f"https://osv.dev/vulnerability/{quote(v)}"


def exposure(c: Container) -> list[str]:
    """What makes a running container more exposed, in words: the parts of the risk view's own exposure rule
    (services.risk.exposure), so the console says exactly what the ranking counted."""
    from containerguard.server.services import risk as risk_svc

    e = risk_svc.exposure(c)
    out = []
    for part in e.parts:
        if part == "published_ports":
            n = len(e.facts.get("ports", ()))
            out.append(f"{n} published port{'s' if n != 1 else ''}")
        elif part == "dangerous_capabilities":
            out.append("+" + "/".join(e.facts.get("capabilities", ())))
        else:
            out.append(_EXPOSURE_WORDS.get(part, part.replace("_", " ")))
    return out


_EXPOSURE_WORDS = {"privileged": "privileged", "docker_socket": "runtime socket mounted",
                   "host_network": "host network", "host_pid": "host PID namespace",
                   "host_ipc": "host IPC namespace", "read_only_root": "read-only root filesystem"}


# --------------------------------------------------------------------------- exceptions


def open_condition(now: dt.datetime) -> Any:
    """SQL: no active exception covers the finding (services.exceptions.is_open, the API's rule)."""
    return exc_svc.is_open(now)


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class FindingView:
    id: int
    vuln_id: str
    title: str
    severity: str
    package: str
    package_type: str
    fixed_version: str
    risk: float
    kev: bool
    epss: float | None
    cvss: float | None
    image_digest: str
    image_name: str
    path: str = ""
    exception: Mapping[str, Any] | None = None  # services.exceptions.as_dict of the covering exception
    hosts: Sequence[str] = ()
    why: Sequence[str] = ()

    @property
    def advisory_url(self) -> str:
        return advisory_url(self.vuln_id)


def _why(f: Finding, running: int, exposure_words: Iterable[str]) -> list[str]:
    parts = [f"{SEV_NAME.get(f.severity, 'unknown')}" + (f" (CVSS {f.cvss_score:.1f})" if f.cvss_score else "")]
    if f.kev:
        parts.append("known exploited (KEV)")
    if f.epss is not None and f.epss >= 0.01:
        parts.append(f"EPSS {f.epss:.0%}")
    parts.append(f"fix in {f.fixed_version}" if f.fixed_version else "no fix yet")
    if running:
        parts.append(f"running in {running} container{'s' if running != 1 else ''}")
    parts.extend(sorted(set(exposure_words)))
    return parts


def _finding_view(f: Finding, img: Image, **kw: Any) -> FindingView:
    pkg = f"{f.package_name} {f.package_version}".strip() if f.package_name else (f.path or "")
    return FindingView(f.id, f.vuln_id, f.title or "", SEV_NAME.get(f.severity, "unknown"), pkg, f.package_type,
                       f.fixed_version, f.risk, f.kev, f.epss, f.cvss_score, img.digest, img.name, f.path, **kw)


def _running(session: Session, digests: Iterable[str], host: str | None = None) -> dict[str, list[Container]]:
    ds = list(set(digests))
    out: dict[str, list[Container]] = {}
    if not ds:
        return out
    q = select(Container, Host.name).join(Host, Host.id == Container.host_id).where(Container.image_digest.in_(ds))
    if host is not None:
        q = q.where(Host.name == host)
    for c, hname in session.execute(q):
        c.host_name = hname  # type: ignore[attr-defined]
        out.setdefault(c.image_digest, []).append(c)
    return out


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True, slots=True)
class DbStatus:
    label: str
    updated: dt.datetime | None
    schema: str = ""
    images: int = 0
    findings: int = 0
    alerts: int = 0
    jobs_queued: int = 0
    jobs_failed: int = 0


def _setting(session: Session, key: str) -> str:
    row = session.get(Setting, key)
    return row.value if row is not None else ""


def db_status(session: Session, *, full: bool = False) -> DbStatus:
    """The vulnerability database the server matched with last, and (``full``) the store's sizes."""
    label = _setting(session, "vulndb_build") or "not yet matched"
    updated_raw = _setting(session, "vulndb_build_at")  # set by services.rescans.note_db_build
    updated = None
    if updated_raw:
        try:
            updated = dt.datetime.fromisoformat(updated_raw)
        except ValueError:
            updated = None
    if not full:
        return DbStatus(label, updated)
    from sqlalchemy import text

    from containerguard.server.store.models import JobRun

    schema = str(session.execute(text("SELECT version_num FROM alembic_version")).scalar() or "")
    n_img = int(session.scalar(select(func.count()).select_from(Image)) or 0)
    n_find = int(session.scalar(select(func.coalesce(func.sum(Image.critical + Image.high + Image.medium + Image.low
                                                             + Image.other), 0))) or 0)
    n_alerts = int(session.scalar(select(func.max(Alert.id))) or 0)
    queued = int(session.scalar(select(func.count()).select_from(JobRun).where(JobRun.status.in_(("queued", "running")))) or 0)
    failed = int(session.scalar(select(func.count()).select_from(JobRun).where(JobRun.status == "failed")) or 0)
    return DbStatus(label, updated, schema, n_img, n_find, n_alerts, queued, failed)


def severity_counts(session: Session) -> dict[str, int]:
    """Findings by severity across every image (the per-image counts ingest and rescans keep)."""
    from containerguard.server.services import trend as trend_svc

    return trend_svc.current(session)


def trend(session: Session, days: int = 30, today: dt.date | None = None,
          live: Mapping[str, int] | None = None) -> list[TrendPoint]:
    """The daily counts services.trend keeps (snapshots at ingest and rescan, backfilled from first-seen
    times), with today's live counts; nothing is written while a page is drawn."""
    from containerguard.server.services import trend as trend_svc

    return [TrendPoint(d, c) for d, c in trend_svc.series(session, days, today, live)]


def top_risks(session: Session, limit: int = 10) -> list[FindingView]:
    now = utcnow()
    q = (select(Finding, Image).join(Image, Image.id == Finding.image_id)
         .where(open_condition(now)).order_by(Finding.risk.desc(), Finding.id.desc()).limit(limit))
    rows = session.execute(q).all()
    running = _running(session, (img.digest for _, img in rows))
    out = []
    for f, img in rows:
        cs = running.get(img.digest, [])
        words = [w for c in cs for w in exposure(c)]
        out.append(_finding_view(f, img, why=_why(f, len(cs), words)))
    return out


NEW_COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class NewSince:
    total: int
    rows: Sequence[FindingView]

    @property
    def label(self) -> str:
        return f"{NEW_COUNT_CAP:,}+" if self.total > NEW_COUNT_CAP else f"{self.total:,}"


def new_since(session: Session, since: dt.datetime | None, limit: int = 10) -> NewSince:
    if since is None:
        return NewSince(0, [])
    cond = Finding.first_seen >= since
    # counted up to a bound: past it the dashboard says "10,000+" (an exact count over 10^5 rows costs more
    # than the rest of the page)
    capped = select(Finding.id).where(cond).limit(NEW_COUNT_CAP + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(capped)) or 0)
    rows = session.execute(select(Finding, Image).join(Image, Image.id == Finding.image_id).where(cond)
                           .order_by(Finding.risk.desc()).limit(limit)).all()
    return NewSince(total, [_finding_view(f, img) for f, img in rows])


def kev_running(session: Session, limit: int = 10) -> list[FindingView]:
    now = utcnow()
    running_digests = select(Container.image_digest).where(Container.image_digest != "").distinct()
    rows = session.execute(select(Finding, Image).join(Image, Image.id == Finding.image_id)
                           .where(Finding.kev.is_(True), Image.digest.in_(running_digests), open_condition(now))
                           .order_by(Finding.risk.desc()).limit(limit)).all()
    running = _running(session, (img.digest for _, img in rows))
    return [_finding_view(f, img, hosts=sorted({c.host_name for c in running.get(img.digest, [])}))  # type: ignore[attr-defined]
            for f, img in rows]


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    time: dt.datetime
    priority: int
    rule: str
    host: str
    container_id: str
    container_name: str
    image: str
    output: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[Any] = ()
    acked_by: str = ""
    acked_at: dt.datetime | None = None

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAME.get(self.priority, str(self.priority))


def _alert_view(a: Alert, host: str, ack: AlertAck | None = None) -> AlertView:
    return AlertView(a.id, a.time, a.priority, a.rule, host, a.container_id, a.container_name, a.image, a.output,
                     a.fields if isinstance(a.fields, dict) else {}, a.tags or [], ack.by if ack else "",
                     ack.at if ack else None)


def alert_counts(session: Session, since: dt.datetime, host: str | None = None) -> list[tuple[str, int]]:
    q = select(Alert.priority, func.count()).where(Alert.time >= since)
    if host is not None:
        q = q.join(Host, Host.id == Alert.host_id).where(Host.name == host)
    rows = session.execute(q.group_by(Alert.priority)).all()
    return [(PRIORITY_NAME.get(p, str(p)), int(n)) for p, n in sorted(rows, key=lambda r: -r[0])]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    priority: str = ""
    rule: str = ""
    host: str = ""
    container: str = ""
    image: str = ""
    since: str = ""
    until: str = ""

    def conditions(self, forced_host: str | None) -> list[Any]:
        conds: list[Any] = []
        if self.priority in PRIORITIES:
            conds.append(Alert.priority >= int(Priority[self.priority.upper()]))
        if self.rule:
            conds.append(Alert.rule.contains(self.rule, autoescape=True))
        host = forced_host if forced_host is not None else self.host
        if host:
            conds.append(Host.name == host)
        if self.container:
            conds.append(or_(Alert.container_name.contains(self.container, autoescape=True),
                             Alert.container_id.startswith(self.container, autoescape=True)))
        if self.image:
            conds.append(Alert.image.contains(self.image, autoescape=True))
        for raw, op in ((self.since, ">="), (self.until, "<=")):
            if raw:
                try:
                    t = dt.datetime.fromisoformat(raw)
                except ValueError:
                    continue
                t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
                conds.append(Alert.time >= t if op == ">=" else Alert.time <= t)
        return conds


def alerts(session: Session, flt: AlertFilter, *, page: int = 1, forced_host: str | None = None,
           after_id: int | None = None, limit: int = PAGE_ROWS) -> Page:
    """Newest first; ``after_id`` (live updates): only alerts stored after that id, oldest first."""
    conds = flt.conditions(forced_host)
    q = (select(Alert, Host.name, AlertAck).join(Host, Host.id == Alert.host_id)
         .outerjoin(AlertAck, AlertAck.alert_id == Alert.id).where(*conds))
    if after_id is not None:
        rows = session.execute(q.where(Alert.id > after_id).order_by(Alert.id.asc()).limit(limit)).all()
        return Page([_alert_view(a, h, k) for a, h, k in rows], 1, None, False)
    rows = session.execute(q.order_by(Alert.time.desc(), Alert.id.desc()).limit(limit + 1)
                           .offset((page - 1) * limit)).all()
    return Page([_alert_view(a, h, k) for a, h, k in rows[:limit]], page, None, len(rows) > limit)


def last_alert_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Alert.id))) or 0)


def alert(session: Session, alert_id: int, forced_host: str | None = None) -> AlertView | None:
    row = session.execute(select(Alert, Host.name, AlertAck).join(Host, Host.id == Alert.host_id)
                          .outerjoin(AlertAck, AlertAck.alert_id == Alert.id).where(Alert.id == alert_id)).first()
    if row is None or (forced_host is not None and row[1] != forced_host):
        return None
    return _alert_view(row[0], row[1], row[2])


def acknowledge(session: Session, alert_id: int, actor: Actor) -> None:
    """Mark an alert acknowledged (once; the first acknowledgement stands) and record it in the audit log."""
    if session.get(AlertAck, alert_id) is None:
        session.add(AlertAck(alert_id=alert_id, by=actor.label))
        record(session, actor, "alert.acknowledge", "alert", alert_id)


@dataclass(frozen=True, slots=True)
class Proc:
    name: str
    pid: str = ""
    cmdline: str = ""


def process_tree(a: AlertView) -> list[Proc]:
    """The alert's process and its ancestors (root first) from the Falco fields the agent sent."""
    f = a.fields
    chain: list[Proc] = []
    for i in range(7, 1, -1):  # proc.aname[7] .. proc.aname[2]: great-grandparents first
        name = f.get(f"proc.aname[{i}]")
        if name:
            chain.append(Proc(str(name), str(f.get(f"proc.apid[{i}]", "") or "")))
    if f.get("proc.pname"):
        chain.append(Proc(str(f["proc.pname"]), str(f.get("proc.ppid", "") or ""), str(f.get("proc.pcmdline", "") or "")))
    if f.get("proc.name"):
        chain.append(Proc(str(f["proc.name"]), str(f.get("proc.pid", "") or ""), str(f.get("proc.cmdline", "") or "")))
    return chain


def responses(a: AlertView) -> list[str]:
    r = a.fields.get("response") or a.fields.get("_response") or []
    if isinstance(r, str):
        return [r]
    if isinstance(r, list):
        return [str(x) for x in r]
    if isinstance(r, dict):
        return [f"{k}: {v}" for k, v in r.items()]
    return []


# --------------------------------------------------------------------------- hosts and containers


@dataclass(frozen=True, slots=True)
class HostView:
    name: str
    last_seen: dt.datetime | None
    agent_version: str
    containers: int


def hosts(session: Session, only: str | None = None, limit: int = PAGE_ROWS) -> list[HostView]:
    n = select(Container.host_id, func.count().label("n")).group_by(Container.host_id).subquery()
    q = select(Host, func.coalesce(n.c.n, 0)).outerjoin(n, n.c.host_id == Host.id)
    if only is not None:
        q = q.where(Host.name == only)
    rows = session.execute(q.order_by(Host.last_seen.desc()).limit(limit)).all()
    return [HostView(h.name, h.last_seen, h.agent_version, int(c)) for h, c in rows]


@dataclass(frozen=True, slots=True)
class ContainerView:
    name: str
    image: str
    image_digest: str
    host: str
    exposure: Sequence[str]


def containers(session: Session, host: str | None = None, limit: int = PAGE_ROWS) -> list[ContainerView]:
    q = select(Container, Host.name).join(Host, Host.id == Container.host_id)
    if host is not None:
        q = q.where(Host.name == host)
    rows = session.execute(q.order_by(Host.name, Container.name).limit(limit)).all()
    return [ContainerView(c.name or c.container_id[:12], c.image, c.image_digest, h, exposure(c)) for c, h in rows]


def registries(session: Session) -> list[Registry]:
    return list(session.scalars(select(Registry).order_by(Registry.name).limit(PAGE_ROWS)))


# --------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageView:
    id: int
    digest: str
    name: str
    os: str
    architecture: str
    scanned_at: dt.datetime | None
    package_count: int
    counts: Mapping[str, int]
    kev: int
    max_risk: float
    running: int


def _image_view(img: Image, running: int) -> ImageView:
    os_ = f"{img.os_family} {img.os_version}".strip()
    counts = {"critical": img.critical, "high": img.high, "medium": img.medium, "low": img.low, "unknown": img.other}
    return ImageView(img.id, img.digest, img.name, os_, img.architecture, img.scanned_at, img.package_count, counts,
                     img.kev, img.max_risk, running)


IMAGE_SORTS = (("risk", "risk"), ("critical", "critical findings"), ("last_seen", "last seen"), ("name", "name"),
               ("scanned", "last scanned"))


def images(session: Session, *, q: str = "", sort: str = "risk", running_only: bool = False, page: int = 1) -> Page:
    order: tuple[Any, ...] = {"risk": (Image.max_risk.desc(), Image.id.desc()), "critical": (Image.critical.desc(), Image.id.desc()),
             "last_seen": (Image.last_seen.desc(), Image.id.desc()), "name": (Image.name.asc(), Image.id.asc()),
             "scanned": (Image.scanned_at.desc(), Image.id.desc())}.get(sort, (Image.max_risk.desc(), Image.id.desc()))
    conds: list[Any] = []
    if q.strip():
        from containerguard.server.services.images import search

        conds.append(search(session, q, wide=True))
    if running_only:
        conds.append(Image.digest.in_(select(Container.image_digest).distinct()))
    total = int(session.scalar(select(func.count()).select_from(Image).where(*conds)) or 0)
    rows = list(session.scalars(select(Image).where(*conds).order_by(*order).limit(PAGE_ROWS)
                                .offset((page - 1) * PAGE_ROWS)))
    running = _running(session, (i.digest for i in rows))
    views = [_image_view(i, len(running.get(i.digest, []))) for i in rows]
    return Page(views, page, total, page * PAGE_ROWS < total)


def image(session: Session, digest: str) -> ImageView | None:
    img = session.scalars(select(Image).where(Image.digest == digest)).first()
    if img is None:
        return None
    return _image_view(img, len(_running(session, [img.digest]).get(img.digest, [])))


def where_runs(session: Session, digest: str) -> list[ContainerView]:
    return [ContainerView(c.name or c.container_id[:12], c.image, c.image_digest, c.host_name, exposure(c))  # type: ignore[attr-defined]
            for c in _running(session, [digest]).get(digest, [])][:PAGE_ROWS]


@dataclass(frozen=True, slots=True)
class FindingFilter:
    severity: str = ""
    fixable: str = ""
    kev: str = ""
    type: str = ""
    status: str = "open"


VULN_KINDS = ("vulnerability",)


def findings(session: Session, image_id: int, flt: FindingFilter, *, page: int = 1) -> Page:
    now = utcnow()
    conds: list[Any] = [Finding.image_id == image_id, Finding.kind.in_(VULN_KINDS)]
    if flt.severity in SEV_VALUE:
        # "+ 0": not an indexable column for the planner, so that it keeps to the (image_id, risk) index
        # instead of walking the global (severity, risk) index across every image (SQLite: 540 ms -> 10 ms)
        sev = Finding.severity + 0
        v = SEV_VALUE[flt.severity]
        conds.append(sev.in_((v, int(Severity.NEGLIGIBLE))) if flt.severity == "low" else sev == v)
    if flt.fixable == "1":
        conds.append(Finding.fixed_version != "")
    elif flt.fixable == "0":
        conds.append(Finding.fixed_version == "")
    if flt.kev == "1":
        # as with severity: an expression, not the column, so the planner keeps to the image's own findings
        # instead of walking the global (kev, risk, id) index and looking up each KEV finding's image
        conds.append(case((Finding.kev.is_(True), 1), else_=0) == 1)
    if flt.type:
        conds.append(Finding.package_type == flt.type)
    if flt.status == "open":
        conds.append(open_condition(now))
    elif flt.status == "excepted":
        conds.append(~open_condition(now))
    base = select(Finding, Image).join(Image, Image.id == Finding.image_id).where(*conds)
    total = int(session.scalar(select(func.count()).select_from(Finding).join(Image, Image.id == Finding.image_id)
                               .where(*conds)) or 0)
    rows = session.execute(base.order_by(Finding.risk.desc(), Finding.id.desc()).limit(PAGE_ROWS)
                           .offset((page - 1) * PAGE_ROWS)).all()
    # only a finding the stored cover marks as excepted now can have a matching exception to show
    covered = [f.vuln_id for f, _ in rows if f.excepted_until is not None and f.excepted_until > now]
    match = exc_svc.matcher(session, covered).match if flt.status != "open" and covered else (lambda f, img: None)
    return Page([_finding_view(f, img, exception=match(f, img)) for f, img in rows], page, total,
                page * PAGE_ROWS < total)


def package_types(session: Session, image_id: int) -> list[str]:
    return [t for (t,) in session.execute(select(Finding.package_type).where(Finding.image_id == image_id)
                                          .distinct().order_by(Finding.package_type)) if t]


def other_findings(session: Session, image_id: int) -> list[FindingView]:
    """Secrets and misconfigurations of the image (one screen, worst first)."""
    rows = session.execute(select(Finding, Image).join(Image, Image.id == Finding.image_id)
                           .where(Finding.image_id == image_id, Finding.kind.not_in(VULN_KINDS))
                           .order_by(Finding.severity.desc(), Finding.id).limit(PAGE_ROWS)).all()
    return [_finding_view(f, img) for f, img in rows]


def finding(session: Session, finding_id: int) -> tuple[Finding, Image] | None:
    row = session.execute(select(Finding, Image).join(Image, Image.id == Finding.image_id)
                          .where(Finding.id == finding_id)).first()
    return (row[0], row[1]) if row else None


# --------------------------------------------------------------------------- audit and tokens


def audit(session: Session, *, actor: str = "", action: str = "", page: int = 1) -> Page:
    conds: list[Any] = []
    if actor:
        conds.append(AuditEntry.actor.contains(actor, autoescape=True))
    if action:
        conds.append(AuditEntry.action.startswith(action, autoescape=True))
    rows = list(session.scalars(select(AuditEntry).where(*conds).order_by(AuditEntry.id.desc())
                                .limit(PAGE_ROWS + 1).offset((page - 1) * PAGE_ROWS)))
    return Page(rows[:PAGE_ROWS], page, None, len(rows) > PAGE_ROWS)


def tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
                                .limit(PAGE_ROWS)))


def repositories_of(session: Session, image_id: int) -> list[str]:
    return list(session.scalars(select(ImageName.repository).where(ImageName.image_id == image_id)
                                .order_by(ImageName.last_seen.desc()).limit(20)))


def registry_name(session: Session, registry_id: int) -> str | None:
    reg = session.get(Registry, registry_id)
    return reg.name if reg is not None else None


def targets(session: Session) -> list[dict[str, Any]]:
    from containerguard.server.services import notify

    out = []
    counts = notify.delivery_counts(session)
    for t in notify.list_targets(session)[:PAGE_ROWS]:
        # ``url`` is the stored display form: a webhook or Slack URL redacted to scheme://host[:port]/…
        out.append({"id": t.id, "name": t.name, "kind": t.kind, "url": t.url, "event_types": t.event_types or [],
                    "enabled": t.enabled, "min_severity_name": SEV_NAME.get(t.min_severity, str(t.min_severity)),
                    "min_priority_name": PRIORITY_NAME.get(t.min_priority, str(t.min_priority)),
                    "running_only": t.running_only, "deliveries": counts.get(t.id, {})})
    return out


def dead_letters(session: Session) -> int:
    from containerguard.server.services import notify

    return notify.dead_count(session)


@dataclass(frozen=True, slots=True)
class LayerView:
    digest: str
    created_by: str
    packages: int


def _inventory(session: Session, image_id: int) -> Any:
    from containerguard.server.services import images as image_svc

    try:
        return image_svc.load_stored_inventory(session, image_id)
    except Exception:  # an image without a readable stored inventory shows no layers
        return None


def layers(session: Session, image_id: int) -> list[LayerView]:
    """Each layer with the number of packages it introduced (from the stored inventory)."""
    inv = _inventory(session, image_id)
    if inv is None:
        return []
    per: dict[int, int] = {}
    for p in inv.packages:
        if p.layer is not None:
            per[p.layer.index] = per.get(p.layer.index, 0) + 1
    return [LayerView(layer.digest, layer.created_by, per.get(layer.index, 0)) for layer in inv.layers][:200]


def sbom(session: Session, img: ImageView, fmt: str) -> tuple[str, str, str]:
    """The stored inventory rendered as CycloneDX or SPDX JSON by the report formats (no re-scan)."""
    from containerguard import __version__
    from containerguard.report import get_reporter

    inv = _inventory(session, img.id)
    if inv is None:
        from containerguard.server.services import NotFound

        raise NotFound("no stored inventory for this image")
    reporter = get_reporter(fmt)
    return reporter(inv, [], target=img.name or img.digest, tool_version=__version__), reporter.media_type, reporter.extension
