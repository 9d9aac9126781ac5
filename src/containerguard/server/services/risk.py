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
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from containerguard.model import Priority
from containerguard.server.services import Invalid
from containerguard.server.services.exceptions import covers
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
    "dangerous_capabilities": 0.2,
}
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
#: recent alerts read at most (newest first); beyond this the factor is already capped for any busy container
MAX_ALERTS_READ = 50_000


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
    ids: set[int] = field(default_factory=set)

    def add(self, alert_id: int, priority: int) -> None:
        if alert_id in self.ids:
            return
        self.ids.add(alert_id)
        self.count += 1
        self.weight += ALERT_WEIGHTS.get(priority, 0.0)
        name = Priority(priority).name if priority in Priority._value2member_map_ else str(priority)
        self.by_priority[name] = self.by_priority.get(name, 0) + 1

    @property
    def factor(self) -> float:
        return min(ALERT_CAP, 1.0 + self.weight)

    def as_dict(self, window: dt.timedelta) -> dict[str, Any]:
        return {"factor": round(self.factor, 4), "alerts": self.count, "by_priority": dict(self.by_priority),
                "window_hours": round(window.total_seconds() / 3600, 2)}


def exposure(c: Container) -> _Exposure:
    """How much of the host a running container exposes, from what its agent reported."""
    e = _Exposure()
    if c.privileged:
        e.parts["privileged"] = EXPOSURE_WEIGHTS["privileged"]
    sockets = sorted({str(m.get(k, "")) for m in c.mounts if isinstance(m, dict)
                      for k in ("source", "destination", "Source", "Destination")
                      if str(m.get(k, "")).endswith(RUNTIME_SOCKETS)})
    if sockets:
        e.parts["docker_socket"] = EXPOSURE_WEIGHTS["docker_socket"]
        e.facts["sockets"] = sockets
    if c.network_mode == "host":
        e.parts["host_network"] = EXPOSURE_WEIGHTS["host_network"]
    published = [p for p in c.ports if isinstance(p, dict) and str(p.get("host_port", ""))
                 and str(p.get("host_ip", "")) not in ("127.0.0.1", "::1", "localhost")]
    if published:
        e.parts["published_ports"] = EXPOSURE_WEIGHTS["published_ports"]
        e.facts["ports"] = [f"{p.get('host_ip') or ALL_ADDRESSES}:{p.get('host_port')}->{p.get('container', '')}"
                            for p in published][:20]
    caps = sorted({str(x).upper().removeprefix("CAP_") for x in c.capabilities} & DANGEROUS_CAPS)
    if caps:
        e.parts["dangerous_capabilities"] = EXPOSURE_WEIGHTS["dangerous_capabilities"]
        e.facts["capabilities"] = caps
    e.factor = 1.0 + sum(e.parts.values())
    return e


def _running(session: Session) -> list[Container]:
    return list(session.scalars(select(Container).where(Container.running.is_(True))))


def _recent_alerts(session: Session, since: dt.datetime) -> list[tuple[int, int, str, str, str, int]]:
    q = (select(Alert.id, Alert.host_id, Alert.container_id, Alert.container_name, Alert.image, Alert.priority)
         .where(Alert.time >= since).order_by(Alert.id.desc()).limit(MAX_ALERTS_READ))
    return [(int(a), int(b), c or "", d or "", e or "", int(f)) for a, b, c, d, e, f in session.execute(q)]


def _container_alerts(containers: Sequence[Container],
                      alerts: Iterable[tuple[int, int, str, str, str, int]]) -> dict[int, _Alerts]:
    """Alerts attributed to each running container: same host and the alert's (possibly short) container id is
    a prefix of the container's, or, without an id, the same container name."""
    by_host: dict[int, list[Container]] = defaultdict(list)
    for c in containers:
        by_host[c.host_id].append(c)
    out: dict[int, _Alerts] = defaultdict(_Alerts)
    for aid, host_id, cid, cname, _image, prio in alerts:
        for c in by_host.get(host_id, ()):
            if (cid and len(cid) >= 12 and c.container_id.startswith(cid)) or (not cid and cname and c.name == cname):
                out[c.id].add(aid, prio)
    return out


@dataclass
class _ImageContext:
    containers: list[Container] = field(default_factory=list)
    alerts: _Alerts = field(default_factory=_Alerts)
    best_exposure: _Exposure = field(default_factory=_Exposure)
    best_container: Container | None = None


def _image_contexts(session: Session, window: dt.timedelta) -> tuple[dict[str, _ImageContext], list[Container],
                                                                     dict[int, _Alerts]]:
    running = _running(session)
    alerts = _recent_alerts(session, utcnow() - window)
    per_container = _container_alerts(running, alerts)
    ctx: dict[str, _ImageContext] = defaultdict(_ImageContext)
    for c in running:
        if not c.image_digest:
            continue
        ic = ctx[c.image_digest]
        ic.containers.append(c)
        e = exposure(c)
        if ic.best_container is None or e.factor > ic.best_exposure.factor:
            ic.best_exposure, ic.best_container = e, c
    # image-level alerts: those on any of its containers (each alert once)
    prio_of = {a[0]: a[5] for a in alerts}
    for ic in ctx.values():
        for c in ic.containers:
            for aid in per_container.get(c.id, _Alerts()).ids:
                ic.alerts.add(aid, prio_of[aid])
    return ctx, running, per_container


def _why(base: float, base_detail: dict[str, Any], running: int, exp: _Exposure, al: _Alerts,
         window: dt.timedelta) -> tuple[float, dict[str, Any]]:
    mult = RUNNING_MULTIPLIER if running else 1.0
    score = round(base * mult * exp.factor * al.factor, 2)
    return score, {"base_risk": round(base, 2), **base_detail,
                   "running": {"multiplier": mult, "running_containers": running},
                   "exposure": exp.as_dict(), "alerts": al.as_dict(window),
                   "formula": f"{base:.2f} x {mult:g} x {exp.factor:g} x {al.factor:g} = {score:.2f}"}


def _image_ref(img: Image) -> dict[str, Any]:
    return {"id": img.id, "digest": img.digest, "name": img.name}


def ranked(session: Session, kind: str, *, limit: int = 50, offset: int = 0,
           window: dt.timedelta = DEFAULT_WINDOW) -> dict[str, Any]:
    """One page of ``kind`` (images | containers | findings), highest score first; ``total`` counts the
    ranked items (findings: only those scored, see ``ranked_findings``)."""
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind[:40]!r} (expected {', '.join(KINDS)})")
    if kind == "images":
        items = rank_images(session, window)
    elif kind == "containers":
        items = rank_containers(session, window)
    else:
        return rank_findings(session, window, limit=limit, offset=offset)
    page = items[offset:offset + limit]
    for i, it in enumerate(page):
        it["rank"] = offset + i + 1
    return {"kind": kind, "total": len(items), "limit": limit, "offset": offset, "items": page}


def rank_images(session: Session, window: dt.timedelta = DEFAULT_WINDOW) -> list[dict[str, Any]]:
    ctx, _, _ = _image_contexts(session, window)
    out: list[dict[str, Any]] = []
    open_max = _open_max_risk(session)
    for img in session.scalars(select(Image)):
        ic = ctx.get(img.digest, _ImageContext())
        base_detail: dict[str, Any] = {"findings": img.critical + img.high + img.medium + img.low + img.other,
                                       "kev": img.kev}
        score, why = _why(open_max.get(img.id, 0.0), base_detail, len(ic.containers), ic.best_exposure, ic.alerts, window)
        if ic.best_container is not None:
            why["exposure"]["container"] = ic.best_container.name or ic.best_container.container_id[:12]
        out.append({"score": score, "image": _image_ref(img), "why": why})
    out.sort(key=lambda it: (-it["score"], -it["why"]["base_risk"], it["image"]["id"]))
    return out


def _open_max_risk(session: Session) -> dict[int, float]:
    """Each image's highest risk among findings no active exception covers (risk accepted, false positive).

    ``Image.max_risk`` (kept with the image's findings) is that value for every image none of whose findings
    an active exception names; only the images that have such findings are recomputed in SQL."""
    from containerguard.server.services.exceptions import active

    out = {int(i): float(r or 0.0) for i, r in session.execute(select(Image.id, Image.max_risk))}
    vulns = sorted({e.vuln_id for e in active(session)})
    if not vulns:
        return out
    touched = select(Finding.image_id).where(Finding.vuln_id.in_(vulns)).distinct()
    q = (select(Finding.image_id, func.max(Finding.risk)).join(Image, Image.id == Finding.image_id)
         .where(Finding.image_id.in_(touched), ~covers(utcnow())).group_by(Finding.image_id))
    exact = {int(i): float(r or 0.0) for i, r in session.execute(q)}
    for image_id in session.scalars(touched):
        out[int(image_id)] = exact.get(int(image_id), 0.0)
    return out


def rank_containers(session: Session, window: dt.timedelta = DEFAULT_WINDOW) -> list[dict[str, Any]]:
    _, running, per_container = _image_contexts(session, window)
    digests = {c.image_digest for c in running if c.image_digest}
    images = {i.digest: i for i in session.scalars(select(Image).where(Image.digest.in_(digests)))} if digests else {}
    open_max = _open_max_risk(session) if images else {}
    hosts = {int(i): str(n) for i, n in session.execute(select(Host.id, Host.name))}
    out: list[dict[str, Any]] = []
    for c in running:
        img = images.get(c.image_digest)
        base = open_max.get(img.id, 0.0) if img else 0.0
        score, why = _why(base, {"scanned": img is not None}, 1, exposure(c), per_container.get(c.id, _Alerts()),
                          window)
        out.append({"score": score, "container": {"id": c.id, "container_id": c.container_id, "name": c.name,
                                                  "host": hosts.get(c.host_id, ""), "image": c.image,
                                                  "image_digest": c.image_digest},
                    "image": _image_ref(img) if img else None, "why": why})
    out.sort(key=lambda it: (-it["score"], it["container"]["id"]))
    return out


def rank_findings(session: Session, window: dt.timedelta = DEFAULT_WINDOW, *, limit: int = 50,
                  offset: int = 0) -> dict[str, Any]:
    """A finding's score is its own risk times its image's running, exposure and alert factors (one factor
    per image). Images are grouped by that factor; within a group the order is the findings' own risk, so only
    the top ``offset + limit`` findings of each group (and of all other images together) can be on the page:
    one query per distinct factor (few: the factors are products of a handful of constants), then merged."""
    ctx, _, _ = _image_contexts(session, window)
    now = utcnow()
    need = offset + limit
    boosted = {img.id: img for img in session.scalars(select(Image).where(Image.digest.in_(list(ctx))))} if ctx else {}
    groups: dict[float, list[int]] = defaultdict(list)
    for img_id, img in boosted.items():
        ic = ctx[img.digest]
        mult = RUNNING_MULTIPLIER if ic.containers else 1.0
        groups[round(mult * ic.best_exposure.factor * ic.alerts.factor, 6)].append(img_id)
    candidates: list[Finding] = []
    for ids_in_group in groups.values():
        q = (select(Finding).join(Image, Image.id == Finding.image_id)
             .where(Finding.image_id.in_(ids_in_group), ~covers(now))
             .order_by(Finding.risk.desc(), Finding.id).limit(need))
        candidates += session.scalars(q)
    # every other image has factor 1: name whichever side is shorter (no query at all when every image runs)
    rest = select(Finding).join(Image, Image.id == Finding.image_id).where(~covers(now))
    others = [i for i in session.scalars(select(Image.id)) if i not in boosted] if boosted else None
    if others is None or others:
        if others is not None:
            rest = rest.where(Finding.image_id.in_(others) if len(others) <= len(boosted)
                              else Finding.image_id.not_in(list(boosted)))
        candidates += session.scalars(rest.order_by(Finding.risk.desc(), Finding.id).limit(need))
    ids_seen = list({f.image_id for f in candidates})
    names: dict[int, str] = {}
    digests: dict[int, str] = {}
    for i, n, d in session.execute(select(Image.id, Image.name, Image.digest).where(Image.id.in_(ids_seen))):
        names[int(i)], digests[int(i)] = str(n), str(d)
    scored = []
    for f in candidates:
        ic = ctx.get(digests.get(f.image_id, ""), _ImageContext())
        score, why = _why(f.risk, {}, len(ic.containers), ic.best_exposure, ic.alerts, window)
        scored.append((score, f, why))
    scored.sort(key=lambda t: (-t[0], -t[1].risk, t[1].id))
    items = []
    for i, (score, f, why) in enumerate(scored[offset:offset + limit]):
        items.append({"rank": offset + i + 1, "score": score,
                      "finding": {"id": f.id, "vuln_id": f.vuln_id, "kind": f.kind, "severity": f.severity,
                                  "package_name": f.package_name, "package_version": f.package_version,
                                  "fixed_version": f.fixed_version, "cvss_score": f.cvss_score, "epss": f.epss,
                                  "kev": f.kev, "risk": f.risk},
                      "image": {"id": f.image_id, "digest": digests.get(f.image_id, ""),
                                "name": names.get(f.image_id, "")},
                      "why": why})
    return {"kind": "findings", "total": None, "limit": limit, "offset": offset, "items": items}
