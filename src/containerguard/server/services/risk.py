"""The ranked risk view: images, running containers and findings ordered by what they risk *here*.

A finding's own ``risk`` (severity/CVSS, EPSS, KEV, fix; docs/risk.md) says how bad the bug is anywhere.
This module joins it with what the agents report: whether the image runs now, how exposed the running
containers are, and recent runtime alerts on them. The formula (docs/server.md, "Risk view")::

    score = base x running x exposure x alerts

Every ranked item carries ``why``: each factor and the facts behind it, so a reader sees why it ranks where it
does. Functions take a Session so the API and the web console share them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from containerguard.model import Priority
from containerguard.server.services import Invalid
from containerguard.server.services.exceptions import is_open
from containerguard.server.store.models import Alert, Container, Finding, Host, Image, utcnow

KINDS = ("images", "containers", "findings")

#: an image that runs somewhere now
RUNNING_MULTIPLIER = 1.5
#: exposure: each present factor adds its weight to 1.0
EXPOSURE_WEIGHTS: dict[str, float] = {
    "privileged": 0.5,
    "docker_socket": 0.5,
    "host_network": 0.3,
    "published_ports": 0.3,
    "host_pid": 0.3,
    "host_ipc": 0.2,
    "dangerous_capabilities": 0.2,
}
#: a read-only root filesystem takes this off an exposed container (alone it changes nothing: 1.0 is the floor)
READ_ONLY_ROOT = -0.1
#: capabilities that give a container most of the host (cap_add)
DANGEROUS_CAPS = frozenset({"SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "BPF",
                            "SYS_RAWIO", "ALL"})
#: container runtime sockets: mounting one hands the host to the container
RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "podman.sock", "dockershim.sock")
#: alert factor: 1 + the sum of these weights over recent alerts, capped at ALERT_CAP
ALERT_WEIGHTS: dict[int, float] = {int(Priority.EMERGENCY): 0.5, int(Priority.ALERT): 0.5,
                                   int(Priority.CRITICAL): 0.5, int(Priority.ERROR): 0.3,
                                   int(Priority.WARNING): 0.2, int(Priority.NOTICE): 0.05}
ALERT_CAP = 2.0
#: alerts older than this do not count
#: how a port bound without an address is shown (it listens on every interface)
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - a label, nothing binds
DEFAULT_WINDOW = dt.timedelta(hours=24)


@dataclass
class _Exposure:
    factor: float = 1.0
    parts: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"factor": round(self.factor, 4), "parts": dict(self.parts), "facts": dict(self.facts)}


@dataclass
class _Alerts:
    count: int = 0
    weight: float = 0.0
    by_priority: dict[str, int] = field(default_factory=dict)

    def add(self, priority: int, n: int = 1) -> None:
        self.count += n
        self.weight += ALERT_WEIGHTS.get(priority, 0.0) * n
        name = Priority(priority).name if priority in Priority._value2member_map_ else str(priority)
        self.by_priority[name] = self.by_priority.get(name, 0) + n

    @property
    def factor(self) -> float:
        return min(ALERT_CAP, 1.0 + self.weight)

    def as_dict(self, window: dt.timedelta) -> dict[str, Any]:
        return {"factor": round(self.factor, 4), "alerts": self.count, "by_priority": dict(self.by_priority),
                "window_hours": round(window.total_seconds() / 3600, 2)}


class ContainerLike(Protocol):
    """What the exposure rules read of a running container (a store row, or the columns of one)."""

    @property
    def privileged(self) -> bool: ...
    @property
    def capabilities(self) -> list[Any]: ...
    @property
    def mounts(self) -> list[Any]: ...
    @property
    def ports(self) -> list[Any]: ...
    @property
    def network_mode(self) -> str: ...
    @property
    def pid_mode(self) -> str: ...
    @property
    def ipc_mode(self) -> str: ...
    @property
    def read_only(self) -> bool: ...


def exposure(c: ContainerLike) -> _Exposure:
    """How much of the host a running container exposes, from what its agent reported."""
    e = _Exposure()
    if c.privileged:
        e.parts["privileged"] = EXPOSURE_WEIGHTS["privileged"]
    sockets = sorted({str(m.get(k, "")) for m in c.mounts or () if isinstance(m, dict)
                      for k in ("source", "destination", "Source", "Destination")
                      if str(m.get(k, "")).endswith(RUNTIME_SOCKETS)})
    if sockets:
        e.parts["docker_socket"] = EXPOSURE_WEIGHTS["docker_socket"]
        e.facts["sockets"] = sockets
    if c.network_mode == "host":
        e.parts["host_network"] = EXPOSURE_WEIGHTS["host_network"]
    published = [p for p in c.ports or () if isinstance(p, dict) and str(p.get("host_port", ""))
                 and str(p.get("host_ip", "")) not in ("127.0.0.1", "::1", "localhost")]
    if published:
        e.parts["published_ports"] = EXPOSURE_WEIGHTS["published_ports"]
        e.facts["ports"] = [f"{p.get('host_ip') or ALL_ADDRESSES}:{p.get('host_port')}->{p.get('container', '')}"
                            for p in published][:20]
    if c.pid_mode == "host":
        e.parts["host_pid"] = EXPOSURE_WEIGHTS["host_pid"]
    if c.ipc_mode == "host":
        e.parts["host_ipc"] = EXPOSURE_WEIGHTS["host_ipc"]
    caps = sorted({str(x).upper().removeprefix("CAP_") for x in c.capabilities or ()} & DANGEROUS_CAPS)
    if caps:
        e.parts["dangerous_capabilities"] = EXPOSURE_WEIGHTS["dangerous_capabilities"]
        e.facts["capabilities"] = caps
    if c.read_only and e.parts:  # every weight is >= 0.2, so an exposed container stays above 1.0
        e.parts["read_only_root"] = READ_ONLY_ROOT
    e.factor = 1.0 + sum(e.parts.values())
    return e


@dataclass(frozen=True, slots=True)
class _Running:
    """The columns of a running container that the ranking reads (no ORM object per container)."""

    id: int
    host_id: int
    container_id: str
    name: str
    image: str
    image_digest: str
    privileged: bool
    capabilities: list[Any]
    mounts: list[Any]
    ports: list[Any]
    network_mode: str
    pid_mode: str = ""
    ipc_mode: str = ""
    read_only: bool = False


_RUNNING_COLUMNS = (Container.id, Container.host_id, Container.container_id, Container.name, Container.image,
                    Container.image_digest, Container.privileged, Container.capabilities, Container.mounts,
                    Container.ports, Container.network_mode, Container.pid_mode, Container.ipc_mode,
                    Container.read_only)


def _listed(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _running(session: Session) -> list[_Running]:
    rows = session.execute(select(*_RUNNING_COLUMNS).where(Container.running.is_(True)).order_by(Container.id))
    return [_Running(int(i), int(h), cid or "", n or "", im or "", d or "", bool(p), _listed(caps), _listed(m),
                     _listed(ports), nm or "", pm or "", ipc or "", bool(ro))
            for i, h, cid, n, im, d, p, caps, m, ports, nm, pm, ipc, ro in rows]


def _recent_alerts(session: Session, since: dt.datetime) -> list[tuple[int, str, str, int, int]]:
    """Recent alerts counted per (host, container id, container name, priority): every alert of one such key is
    attributed to the same containers, so the counts are exact and the database does the counting."""
    q = (select(Alert.host_id, Alert.container_id, Alert.container_name, Alert.priority, func.count())
         .where(Alert.time >= since)
         .group_by(Alert.host_id, Alert.container_id, Alert.container_name, Alert.priority))
    return [(int(h), c or "", n or "", int(p), int(k)) for h, c, n, p, k in session.execute(q)]


def _attributed(containers: Sequence[_Running],
                alerts: Iterable[tuple[int, str, str, int, int]]) -> Iterator[tuple[list[_Running], int, int]]:
    """(the running containers an alert key is attributed to, priority, count): same host and the alert's
    (possibly short, at least 12 characters) container id is a prefix of the container's, or, without an id,
    the same container name."""
    by_prefix: dict[tuple[int, str], list[_Running]] = defaultdict(list)
    by_name: dict[tuple[int, str], list[_Running]] = defaultdict(list)
    for c in containers:
        by_prefix[(c.host_id, c.container_id[:12])].append(c)
        if c.name:
            by_name[(c.host_id, c.name)].append(c)
    for host_id, cid, cname, prio, n in alerts:
        if cid and len(cid) >= 12:
            hit = [c for c in by_prefix.get((host_id, cid[:12]), ()) if c.container_id.startswith(cid)]
        elif not cid and cname:
            hit = by_name.get((host_id, cname), [])
        else:
            continue
        if hit:
            yield hit, prio, n


@dataclass
class _ImageContext:
    containers: list[_Running] = field(default_factory=list)
    alerts: _Alerts = field(default_factory=_Alerts)
    best_exposure: _Exposure = field(default_factory=_Exposure)
    best_container: _Running | None = None


_Contexts = tuple[dict[str, _ImageContext], list[_Running], dict[int, _Alerts]]
#: the contexts are kept this long at most (the alert window slides; nothing else changes them unseen)
CONTEXT_TTL_SECONDS = 30.0
_contexts_cache: dict[tuple[Any, ...], tuple[float, _Contexts]] = {}
_contexts_lock = threading.Lock()


def _image_contexts(session: Session, window: dt.timedelta) -> _Contexts:
    """Each running image's containers, best exposure and alerts, and each container's alerts. Kept per process
    for up to CONTEXT_TTL_SECONDS while the store shows no change that could alter them: the newest alert id,
    and the number and latest report time of running containers (every agent snapshot stamps its containers),
    read in two indexed probes. Any new alert or container report recomputes them at once."""
    newest_alert = session.scalar(select(func.max(Alert.id)))
    n_running, last_report = session.execute(select(func.count(), func.max(Container.last_seen))
                                             .where(Container.running.is_(True))).one()
    bind = session.get_bind()
    key = (str(bind.engine.url), window, newest_alert, n_running, last_report)
    now = time.monotonic()
    with _contexts_lock:
        hit = _contexts_cache.get(key)
        if hit is not None and now - hit[0] < CONTEXT_TTL_SECONDS:
            return hit[1]
    got = _compute_contexts(session, window)
    with _contexts_lock:
        for k in [k for k, (at, _) in _contexts_cache.items() if now - at >= CONTEXT_TTL_SECONDS or k[0] == key[0]]:
            del _contexts_cache[k]
        _contexts_cache[key] = (now, got)
    return got


def _compute_contexts(session: Session, window: dt.timedelta) -> _Contexts:
    running = _running(session)
    ctx: dict[str, _ImageContext] = defaultdict(_ImageContext)
    for c in running:
        if not c.image_digest:
            continue
        ic = ctx[c.image_digest]
        ic.containers.append(c)
        e = exposure(c)
        if ic.best_container is None or e.factor > ic.best_exposure.factor:
            ic.best_exposure, ic.best_container = e, c
    per_container: dict[int, _Alerts] = defaultdict(_Alerts)
    for hit, prio, n in _attributed(running, _recent_alerts(session, utcnow() - window)):
        for c in hit:
            per_container[c.id].add(prio, n)
        # image-level: the alerts on any of its containers, each alert once
        for digest in {c.image_digest for c in hit if c.image_digest}:
            ctx[digest].alerts.add(prio, n)
    return dict(ctx), running, dict(per_container)


def _why(base: float, base_detail: dict[str, Any], running: int, exp: _Exposure, al: _Alerts,
         window: dt.timedelta) -> tuple[float, dict[str, Any]]:
    mult = RUNNING_MULTIPLIER if running else 1.0
    score = round(base * mult * exp.factor * al.factor, 2)
    return score, {"base_risk": round(base, 2), **base_detail,
                   "running": {"multiplier": mult, "running_containers": running},
                   "exposure": exp.as_dict(), "alerts": al.as_dict(window),
                   "formula": f"{base:.2f} x {mult:g} x {exp.factor:g} x {al.factor:g} = {score:.2f}"}


def ranked(session: Session, kind: str, *, limit: int = 50, offset: int = 0,
           window: dt.timedelta = DEFAULT_WINDOW) -> dict[str, Any]:
    """One page of ``kind`` (images | containers | findings), highest score first; ``total`` counts the
    ranked items (findings: only those scored, see ``ranked_findings``). Every item is scored; only the
    page's items are written out with their ``why``."""
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind[:40]!r} (expected {', '.join(KINDS)})")
    if kind == "findings":
        return rank_findings(session, window, limit=limit, offset=offset)
    items, total = (rank_images if kind == "images" else rank_containers)(session, window, limit=limit, offset=offset)
    for i, it in enumerate(items):
        it["rank"] = offset + i + 1
    return {"kind": kind, "total": total, "limit": limit, "offset": offset, "items": items}


def _score(base: float, running: int, exp: _Exposure, al: _Alerts) -> float:
    """The score ``_why`` writes out, multiplied in the same order."""
    return round(base * (RUNNING_MULTIPLIER if running else 1.0) * exp.factor * al.factor, 2)


def rank_images(session: Session, window: dt.timedelta = DEFAULT_WINDOW, *, limit: int | None = None,
                offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(one page of images, highest score first; how many are ranked)."""
    ctx, _, _ = _image_contexts(session, window)
    open_max = _open_max_risk(session)
    cols = (Image.id, Image.digest, Image.name, Image.critical + Image.high + Image.medium + Image.low + Image.other,
            Image.kev)
    none = _ImageContext()
    scored = []
    for row in session.execute(select(*cols)):
        ic = ctx.get(row[1], none)
        base = open_max.get(row[0], 0.0)
        scored.append((-_score(base, len(ic.containers), ic.best_exposure, ic.alerts), -round(base, 2), row[0], row))
    scored.sort(key=lambda t: t[:3])
    out: list[dict[str, Any]] = []
    for _, _, _, (img_id, digest, name, n_findings, kev) in scored[offset:None if limit is None else offset + limit]:
        ic = ctx.get(digest, none)
        base_detail: dict[str, Any] = {"findings": int(n_findings or 0), "kev": int(kev or 0)}
        score, why = _why(open_max.get(img_id, 0.0), base_detail, len(ic.containers), ic.best_exposure, ic.alerts, window)
        if ic.best_container is not None:
            why["exposure"]["container"] = ic.best_container.name or ic.best_container.container_id[:12]
        out.append({"score": score, "image": {"id": img_id, "digest": digest, "name": name}, "why": why})
    return out, len(scored)


def _open_max_risk(session: Session, image_ids: Sequence[int] | None = None) -> dict[int, float]:
    """Each image's highest risk among findings no active exception covers (risk accepted, false positive).

    ``Image.max_risk`` (kept with the image's findings) is that value for every image none of whose findings
    an active exception covers (``Finding.excepted_until``, indexed); only those that have such findings are
    recomputed in SQL."""
    now = utcnow()
    # every image's stored maximum in one read (a long IN list costs more to bind than the rows cost to read)
    wanted = set(image_ids) if image_ids is not None else None
    out = {int(i): float(r or 0.0) for i, r in session.execute(select(Image.id, Image.max_risk))
           if wanted is None or i in wanted}
    # no DISTINCT: SQLite would then walk a whole (image_id, ...) index instead of the few excepted rows
    touched_ids = sorted({int(i) for i in session.scalars(select(Finding.image_id).where(Finding.excepted_until > now))})
    if wanted is not None:
        touched_ids = [i for i in touched_ids if i in wanted]
    if not touched_ids:
        return out
    # per image, the first open finding walking its (image_id, risk) index downwards: about one row each,
    # where max() over the image's open findings reads them all
    top_open = (select(Finding.risk).where(Finding.image_id == Image.id, is_open(now))
                .order_by(Finding.risk.desc()).limit(1).correlate(Image).scalar_subquery())
    exact = {int(i): float(r or 0.0) for i, r in session.execute(
        select(Image.id, top_open).where(Image.id.in_(touched_ids)))}
    for image_id in touched_ids:
        out[image_id] = exact.get(image_id, 0.0)
    return out


def rank_containers(session: Session, window: dt.timedelta = DEFAULT_WINDOW, *, limit: int | None = None,
                    offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(one page of running containers, highest score first; how many are ranked)."""
    _, running, per_container = _image_contexts(session, window)
    digests = {c.image_digest for c in running if c.image_digest}
    images: dict[str, tuple[int, str]] = {str(d): (int(i), str(n)) for i, d, n in session.execute(
        select(Image.id, Image.digest, Image.name)) if d in digests} if digests else {}
    open_max = _open_max_risk(session, [i for i, _ in images.values()]) if images else {}
    none = _Alerts()
    exposures = {c.id: exposure(c) for c in running}

    def base_of(c: _Running) -> float:
        img = images.get(c.image_digest)
        return open_max.get(img[0], 0.0) if img else 0.0

    scored = sorted(running, key=lambda c: (-_score(base_of(c), 1, exposures[c.id], per_container.get(c.id, none)), c.id))
    page = scored[offset:None if limit is None else offset + limit]
    hosts = {int(i): str(n) for i, n in session.execute(
        select(Host.id, Host.name).where(Host.id.in_({c.host_id for c in page})))} if page else {}
    out: list[dict[str, Any]] = []
    for c in page:
        img = images.get(c.image_digest)
        score, why = _why(base_of(c), {"scanned": img is not None}, 1, exposures[c.id], per_container.get(c.id, none),
                          window)
        out.append({"score": score, "container": {"id": c.id, "container_id": c.container_id, "name": c.name,
                                                  "host": hosts.get(c.host_id, ""), "image": c.image,
                                                  "image_digest": c.image_digest},
                    "image": {"id": img[0], "digest": c.image_digest, "name": img[1]} if img else None, "why": why})
    return out, len(scored)


def rank_findings(session: Session, window: dt.timedelta = DEFAULT_WINDOW, *, limit: int = 50,
                  offset: int = 0) -> dict[str, Any]:
    """A finding's score is its own risk times its image's running, exposure and alert factors (one factor
    per image). Images are grouped by that factor; within a group the order is the findings' own risk, so only
    the top ``offset + limit`` findings of each group (and of all other images together) can be on the page:
    one query per distinct factor (few: the factors are products of a handful of constants), then merged.
    Groups are read highest factor first, and a group whose best possible score (its factor times the highest
    open risk) cannot reach the page is not read at all."""
    ctx, _, _ = _image_contexts(session, window)
    now = utcnow()
    need = offset + limit
    ids_of = {str(d): int(i) for d, i in session.execute(select(Image.digest, Image.id))} if ctx else {}
    boosted: dict[int, str] = {ids_of[d]: d for d in ctx if d in ids_of}
    groups: dict[float, list[int]] = defaultdict(list)
    parts: dict[int, tuple[float, float, float]] = {}  # image id -> its factors, multiplied as _why does
    for img_id, digest in boosted.items():
        ic = ctx[digest]
        parts[img_id] = (RUNNING_MULTIPLIER if ic.containers else 1.0, ic.best_exposure.factor, ic.alerts.factor)
        groups[round(parts[img_id][0] * parts[img_id][1] * parts[img_id][2], 6)].append(img_id)
    # every other image has factor 1: name whichever side is shorter (no query at all when every image runs)
    others = [i for i in ids_of.values() if i not in boosted] if boosted else None
    if others is None or others:
        groups.setdefault(1.0, [])
    columns = (Finding.id, Finding.image_id, Finding.vuln_id, Finding.kind, Finding.severity, Finding.package_name,
               Finding.package_version, Finding.fixed_version, Finding.cvss_score, Finding.epss, Finding.kev,
               Finding.risk)
    top_open = session.scalar(select(Finding.risk).where(is_open(now)).order_by(Finding.risk.desc()).limit(1)) or 0.0
    scored: list[tuple[float, Any]] = []
    for factor in sorted(groups, reverse=True):
        ids_in_group = groups[factor]
        q = select(*columns).where(is_open(now))
        if len(scored) >= need:
            scored.sort(key=lambda t: (-t[0], -t[1].risk, t[1].id))
            del scored[need:]
            if top_open * factor + 0.01 < scored[-1][0]:
                continue  # nothing in this group can reach the page
            # nor can a finding whose risk times the factor stays under the page's last score (an index range)
            q = q.where(Finding.risk >= (scored[-1][0] - 0.01) / factor)
        if factor == 1.0 and others is not None:
            rest = (Finding.image_id.in_(others) if len(others) <= len(boosted)
                    else Finding.image_id.not_in(list(boosted)))
            q = q.where(rest if not ids_in_group else or_(rest, Finding.image_id.in_(ids_in_group)))
        elif factor != 1.0 or ids_in_group:
            q = q.where(Finding.image_id.in_(ids_in_group))
        for f in session.execute(q.order_by(Finding.risk.desc(), Finding.id).limit(need)):
            mult, exp, al = parts.get(f.image_id, (1.0, 1.0, 1.0))
            scored.append((round(f.risk * mult * exp * al, 2), f))
    scored.sort(key=lambda t: (-t[0], -t[1].risk, t[1].id))
    page = scored[offset:offset + limit]
    names: dict[int, tuple[str, str]] = {}
    if page:
        names = {int(i): (str(d), str(n)) for i, d, n in session.execute(
            select(Image.id, Image.digest, Image.name).where(Image.id.in_({f.image_id for _, f in page})))}
    items = []
    none = _ImageContext()
    for i, (_, f) in enumerate(page):
        digest, name = names.get(f.image_id, ("", ""))
        ic = ctx.get(digest, none)
        score, why = _why(f.risk, {}, len(ic.containers), ic.best_exposure, ic.alerts, window)
        items.append({"rank": offset + i + 1, "score": score,
                      "finding": {"id": f.id, "vuln_id": f.vuln_id, "kind": f.kind, "severity": f.severity,
                                  "package_name": f.package_name, "package_version": f.package_version,
                                  "fixed_version": f.fixed_version, "cvss_score": f.cvss_score, "epss": f.epss,
                                  "kev": f.kev, "risk": f.risk},
                      "image": {"id": f.image_id, "digest": digest, "name": name},
                      "why": why})
    return {"kind": "findings", "total": None, "limit": limit, "offset": offset, "items": items}
