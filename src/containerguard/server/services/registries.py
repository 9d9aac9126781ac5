"""Registries the server watches: polling (catalog -> tags -> manifest digests) and push notifications (the
Docker distribution ``notifications`` webhook, authenticated by a shared secret). Only digests the server
has not seen are pulled, layer by layer through the layer cache, by ``scanner.scan_target``; a new tag of a
known digest only records the name. Credentials are stored encrypted (``crypto``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from containerguard import egress
from containerguard.errors import ContainerGuardError, RegistryError
from containerguard.server import auth, crypto
from containerguard.server.services import Invalid, NotFound
from containerguard.server.services.audit import SYSTEM, Actor, record
from containerguard.server.services.events import raise_event
from containerguard.server.store.models import ImageName, Registry, utcnow

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext

MAX_PLATFORMS = 128  # platform images of one index (official multi-arch images have about 10, twice with attestations)
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json")


def _host(url: str) -> str:
    return urlsplit(url).netloc


def add(session: Session, actor: Actor, *, name: str, url: str, username: str = "", password: str = "",
        repositories: list[str] | None = None, interval: int = 3600, webhook_secret: str = "") -> Registry:
    base = _check(url, interval)
    if session.scalars(select(Registry).where(Registry.name == name)).first() is not None:
        raise Invalid(f"a registry named {name!r} exists")
    row = Registry(name=name, url=base, username=username,
                   password_enc=crypto.encrypt(password), repositories=list(repositories or []),
                   interval=interval, webhook_secret_hash=auth.hash_secret(webhook_secret) if webhook_secret else "")
    session.add(row)
    session.flush()
    record(session, actor, "registry.add", "registry", row.id, name=name, url=row.url, username=username,
           repositories=row.repositories, interval=interval, webhook=bool(webhook_secret))
    return row


def _check(url: str, interval: int) -> str:
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # it would be stored and shown in clear
        raise Invalid("registry URL: no credentials in the URL (give the username and password on their own)")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise Invalid(f"registry URL {url[:200]!r}: expected https://HOST[:PORT] (http:// for a plain-HTTP registry)")
    why = egress.literal_refusal(parts.hostname or "")
    if why is not None:
        raise Invalid(f"registry URL {url[:200]!r}: {why}")
    if interval and interval < 60:
        raise Invalid("interval: at least 60 seconds (0: never poll, notifications only)")
    return f"{parts.scheme}://{parts.netloc}"


def update(session: Session, actor: Actor, name: str, *, new_name: str | None = None, url: str | None = None,
           username: str | None = None, password: str | None = None, repositories: list[str] | None = None,
           interval: int | None = None, webhook_secret: str | None = None) -> tuple[Registry, list[str]]:
    """Change what was given (None: keep). A secret (``password``, ``webhook_secret``) given as None keeps the
    stored one and "" removes it; the audit entry names the fields changed and never a secret's value.
    Returns the row and the names of the fields that changed."""
    row = by_name(session, name)
    base = _check(url if url is not None else row.url, row.interval if interval is None else interval)
    if new_name is not None and new_name != row.name and \
            session.scalars(select(Registry.id).where(Registry.name == new_name)).first() is not None:
        raise Invalid(f"a registry named {new_name!r} exists")
    changed: list[str] = []

    def put(attr: str, value: Any, label: str | None = None) -> None:
        if value is not None and getattr(row, attr) != value:
            setattr(row, attr, value)
            changed.append(label or attr)

    put("name", new_name)
    put("url", base if url is not None else None)
    put("username", username)
    put("repositories", list(repositories) if repositories is not None else None)
    put("interval", interval)
    if password is not None and (password or row.password_enc):  # a secret given is written (never compared)
        row.password_enc = crypto.encrypt(password) if password else ""
        changed.append("password")
    if webhook_secret is not None and (webhook_secret or row.webhook_secret_hash):
        row.webhook_secret_hash = auth.hash_secret(webhook_secret) if webhook_secret else ""
        changed.append("webhook_secret")
    if changed:
        session.flush()
        record(session, actor, "registry.update", "registry", row.id, name=row.name, changed=changed,
               url=row.url, username=row.username, repositories=row.repositories, interval=row.interval,
               has_password=bool(row.password_enc), webhook=bool(row.webhook_secret_hash),
               **({"renamed_from": name} if "name" in changed else {}))
    return row, changed


#: fields whose change makes the stored sync state stale (a new poll is queued)
RESYNC = frozenset({"url", "username", "password", "repositories"})


def remove(session: Session, actor: Actor, name: str) -> None:
    row = by_name(session, name)
    session.delete(row)
    record(session, actor, "registry.remove", "registry", row.id, name=name)


def by_name(session: Session, name: str) -> Registry:
    row = session.scalars(select(Registry).where(Registry.name == name)).first()
    if row is None:
        raise NotFound(f"no registry {name[:100]!r}")
    return row


def as_dict(r: Registry) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "url": r.url, "username": r.username, "has_password": bool(r.password_enc),
            "repositories": r.repositories, "interval": r.interval, "webhook": bool(r.webhook_secret_hash),
            "created_at": r.created_at, "last_polled": r.last_polled, "last_error": r.last_error}


def list_registries(session: Session) -> list[Registry]:
    return list(session.scalars(select(Registry).order_by(Registry.name)))


def due_for_poll(session: Session) -> list[int]:
    now = utcnow()
    out = []
    for r in session.scalars(select(Registry).where(Registry.interval > 0)):
        if r.last_polled is None or now - r.last_polled >= dt.timedelta(seconds=r.interval):
            out.append(r.id)
    return out


def wanted(reg: Registry, repository: str) -> bool:
    return not reg.repositories or any(fnmatch.fnmatchcase(repository, p) for p in reg.repositories)


def known_manifest(session: Session, manifest_digest: str) -> int | None:
    """The image id a manifest digest already points at, if any."""
    row = session.scalars(select(ImageName).where(ImageName.manifest_digest == manifest_digest)).first()
    return row.image_id if row is not None else None


def known_index(session: Session, index_digest: str) -> list[tuple[int, str, str]]:
    """(image id, platform manifest digest, platform) of every platform image of an index already scanned."""
    rows = session.execute(select(ImageName.image_id, ImageName.manifest_digest, ImageName.platform)
                           .where(ImageName.index_digest == index_digest))
    return list(dict.fromkeys((r.image_id, r.manifest_digest, r.platform) for r in rows))


def note_name(session: Session, image_id: int, repository: str, tag: str, manifest_digest: str, *,
              index_digest: str = "", platform: str = "") -> None:
    row = session.scalars(select(ImageName).where(
        ImageName.image_id == image_id, ImageName.repository == repository, ImageName.tag == tag,
        ImageName.manifest_digest == manifest_digest)).first()
    if row is None:
        from containerguard.server.services.exceptions import refresh_cover

        session.add(ImageName(image_id=image_id, repository=repository, tag=tag, manifest_digest=manifest_digest,
                              index_digest=index_digest, platform=platform))
        session.flush()
        refresh_cover(session, image_ids=[image_id])  # a repository exception may name it
        return
    row.last_seen = utcnow()
    if index_digest:  # the tag now points at this index (a tag pushed again may name a new one)
        row.index_digest, row.platform = index_digest, platform


def note_known(session: Session, repository: str, tag: str, digest: str) -> bool:
    """Record ``repository:tag`` -> ``digest`` if that manifest or index was scanned before; False if not."""
    image_id = known_manifest(session, digest)
    if image_id is not None:
        note_name(session, image_id, repository, tag, digest)
        return True
    platforms = known_index(session, digest)
    for image_id, manifest_digest, platform in platforms:
        note_name(session, image_id, repository, tag, manifest_digest, index_digest=digest, platform=platform)
    return bool(platforms)


def platform_manifests(body: bytes, media_type: str, digest: str, what: str) -> list[tuple[str, str]]:
    """(manifest digest, platform) of each image a manifest stands for: itself (platform "") or, for an image
    index, each platform's manifest. Attestation and other non-image entries (platform unknown/unknown) are
    skipped; so are entries that are themselves indexes (nesting is not followed). More than
    ``MAX_PLATFORMS`` images is an error for this tag (each would be a scan job)."""
    from containerguard.artifact.manifest import Index, parse_manifest

    node = parse_manifest(body, media_type, what=what)
    if not isinstance(node, Index):
        return [(digest, "")]
    out = []
    for d in node.manifests:
        if d.platform is None or d.platform.architecture == "unknown" or "index" in d.media_type \
                or "manifest.list" in d.media_type:
            continue
        out.append((d.digest, str(d.platform)))
    out = list(dict.fromkeys(out))
    if len(out) > MAX_PLATFORMS:  # each would be a scan job: one manifest must not queue thousands
        raise RegistryError(f"{what}: the index lists {len(out)} platform images (at most {MAX_PLATFORMS} are scanned)")
    return out


def notification(session: Session, reg: Registry, events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Handle a notification envelope's events: returns (repository, tag, digest) to pull; names of known
    digests are recorded at once."""
    from containerguard.artifact.registry import valid_repository, valid_tag

    todo: list[tuple[str, str, str]] = []
    for ev in events:
        if not isinstance(ev, dict) or ev.get("action") != "push":
            continue
        target = ev.get("target") or {}
        if not isinstance(target, dict) or target.get("mediaType") not in MANIFEST_TYPES:
            continue
        repo, tag, digest = str(target.get("repository", "")), str(target.get("tag", "") or ""), str(target.get("digest", ""))
        if not valid_repository(repo) or (tag and not valid_tag(tag)) or not wanted(reg, repo) or \
                not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            continue
        if note_known(session, f"{_host(reg.url)}/{repo}", tag, digest):
            continue
        todo.append((repo, tag, digest))  # scan_image expands an index into its platform images
    return list(dict.fromkeys(todo))


def _client(reg: Registry, repo: str) -> Any:
    from containerguard.artifact.registry import RegistryClient

    return RegistryClient(_host(reg.url), repo, insecure=reg.url.startswith("http://"),
                          username=reg.username or None, password=crypto.decrypt(reg.password_enc) or None)


def poll(ctx: JobContext, registry_id: int) -> dict[str, Any]:
    """Catalog -> tags -> manifest digests; defer a scan for each digest not seen before. A repository or tag
    that cannot be read (refused, gone, lying about its digest, not a valid name) costs itself, not the poll:
    the others are polled, and what failed is in the result, in ``last_error`` and in one ``scan_failed``
    event. Only a catalog that cannot be read fails the poll."""
    with ctx.tx() as s:
        reg = s.get(Registry, registry_id)
        if reg is None:
            return {"error": "registry removed"}
        reg.last_polled = utcnow()
        name = reg.name
    found = new = 0
    failed: list[str] = []
    try:
        with ctx.tx() as s:
            reg = s.get(Registry, registry_id)
            assert reg is not None
            s.expunge(reg)
        cat = _client(reg, "library/none")
        try:
            repos = [r for r in cat.catalog() if wanted(reg, r)]
        finally:
            cat.close()
        for repo in repos:
            f, n = _poll_repo(ctx, reg, repo, failed)
            found, new = found + f, new + n
    except ContainerGuardError as exc:
        _poll_failed(ctx, registry_id, name, str(exc)[:2000], f"polling registry {name} failed: {exc}")
        raise
    if failed:
        summary = f"{len(failed)} repositories or tags failed; first: {failed[0]}"
        _poll_failed(ctx, registry_id, name, summary[:2000],
                     f"polling registry {name}: {summary}"[:2000], failed=failed[:POLL_ERRORS_KEPT])
    else:
        with ctx.tx() as s:
            r = s.get(Registry, registry_id)
            if r is not None:
                r.last_error = ""
    return {"registry": name, "manifests": found, "new": new,
            **({"errors": len(failed), "failed": failed[:POLL_ERRORS_KEPT]} if failed else {})}


POLL_ERRORS_KEPT = 100  # failures named in a poll's result and event (all are counted)


def _poll_failed(ctx: JobContext, registry_id: int, name: str, last_error: str, summary: str, **detail: Any) -> None:
    with ctx.tx() as s:
        r = s.get(Registry, registry_id)
        if r is not None:
            r.last_error = last_error
        raise_event(s, "scan_failed", summary, severity=3, registry=name, **detail)


def _poll_repo(ctx: JobContext, reg: Registry, repo: str, failed: list[str]) -> tuple[int, int]:
    """Poll one repository's tags: (platform images found, scans queued); failures appended to ``failed``."""
    from containerguard.artifact.registry import valid_repository, valid_tag

    shown = repo[:100]
    if not valid_repository(repo):  # never put into a request path
        failed.append(f"{shown!r}: not a valid repository name")
        return 0, 0
    found = new = 0
    c = _client(reg, repo)
    try:
        try:
            tags = c.tags()
        except ContainerGuardError as exc:
            failed.append(f"{shown}: {str(exc)[:300]}")
            return 0, 0
        for tag in tags:
            if not valid_tag(tag):
                failed.append(f"{shown}:{tag[:60]!r}: not a valid tag")
                continue
            try:
                f, n = _poll_tag(ctx, reg.id, c, f"{_host(reg.url)}/{repo}", repo, tag)
            except ContainerGuardError as exc:
                failed.append(f"{shown}:{tag}: {str(exc)[:300]}")
                continue
            found, new = found + f, new + n
    finally:
        c.close()
    return found, new


def _queue_new(ctx: JobContext, registry_id: int, repo: str, name: str, tag: str, digest: str,
               images: list[tuple[str, str]]) -> list[str]:
    """For each (manifest digest, platform) of what ``tag`` points at (``digest``): record the name of one
    already scanned, queue a scan of the others; returns the platforms queued."""
    queued = []
    for mdigest, platform in images:
        index = digest if platform else ""
        with ctx.tx() as s:
            image_id = known_manifest(s, mdigest)
            if image_id is not None:
                note_name(s, image_id, name, tag, mdigest, index_digest=index, platform=platform)
                continue
        queued.append(platform)
        ctx.queue.defer("scan_image", registry_id=registry_id, repository=repo, reference=mdigest, tag=tag,
                        index_digest=index, platform=platform, _lock=f"scan-{mdigest}")
    return queued


def _poll_tag(ctx: JobContext, registry_id: int, client: Any, name: str, repo: str, tag: str) -> tuple[int, int]:
    """One tag of a poll: (platform images found, scans queued). An index counts each platform's image."""
    body, media_type, digest = client.manifest(tag)
    with ctx.tx() as s:
        if note_known(s, name, tag, digest):
            return max(1, len(known_index(s, digest))), 0
    images = platform_manifests(body, media_type, digest, f"{name}:{tag}")
    return len(images), len(_queue_new(ctx, registry_id, repo, name, tag, digest, images))


def _expand_index(ctx: JobContext, reg: Registry, repository: str, reference: str, tag: str) -> dict[str, Any] | None:
    """When ``reference`` is an image index: queue a scan of each platform's image (recording names of those
    already scanned) and return what was done; None when it is a plain manifest (scan it)."""
    c = _client(reg, repository)
    try:
        body, media_type, digest = c.manifest(reference)
    finally:
        c.close()
    name = f"{_host(reg.url)}/{repository}"
    images = platform_manifests(body, media_type, digest, f"{name}@{digest[:19]}")
    if images == [(digest, "")]:
        return None
    queued = _queue_new(ctx, reg.id, repository, name, tag, digest, images)
    return {"index": digest, "platforms": [p for _, p in images], "queued": queued}


def scan_image(ctx: JobContext, registry_id: int, repository: str, reference: str, tag: str = "",
               index_digest: str = "", platform: str = "") -> dict[str, Any]:
    """Pull and scan one manifest digest (skipped when another job got to it first). An image index is not
    scanned as one image: each platform's manifest is queued as an image of its own (``index_digest`` and
    ``platform`` then name where it came from)."""
    from containerguard import __version__
    from containerguard.report import RenderOptions, get_reporter
    from containerguard.scanner import scan_target
    from containerguard.server.services import images

    with ctx.tx() as s:
        reg = s.get(Registry, registry_id)
        if reg is None:
            return {"error": "registry removed"}
        s.expunge(reg)
        name = f"{_host(reg.url)}/{repository}"
        known = known_manifest(s, reference) if reference.startswith("sha256:") else None
        if known is not None:
            note_name(s, known, name, tag, reference, index_digest=index_digest, platform=platform)
            return {"skipped": "digest already scanned", "image_id": known}
        if not index_digest and reference.startswith("sha256:") and note_known(s, name, tag, reference):
            return {"skipped": "index already scanned"}
    if not index_digest:
        expanded = _expand_index(ctx, reg, repository, reference, tag)
        if expanded is not None:
            return expanded
    host = _host(reg.url)
    target = f"registry:{host}/{repository}@{reference}" if reference.startswith("sha256:") else \
        f"registry:{host}/{repository}:{reference}"
    try:
        res = scan_target(target, db=ctx.settings.vulndb, insecure=reg.url.startswith("http://"),
                          username=reg.username or None, password=crypto.decrypt(reg.password_enc) or None)
    except ContainerGuardError as exc:
        with ctx.tx() as s:
            raise_event(s, "scan_failed", f"scanning {host}/{repository}@{reference[:19]} failed: {exc}", severity=3,
                        registry=reg.name, repository=repository, reference=reference)
        raise
    doc = get_reporter("json")(res.inventory, list(res.findings), target=res.inventory.target,
                               tool_version=__version__, options=RenderOptions())
    data = doc.encode() if isinstance(doc, str) else bytes(doc)
    parsed = images.parse_upload(data)
    names = ((f"{host}/{repository}", tag, reference if reference.startswith("sha256:") else ""),
             *[n for n in parsed.names if n[0]])
    parsed = dataclasses.replace(parsed, names=tuple(dict.fromkeys(names)))
    with ctx.tx() as s:
        out = images.ingest(s, SYSTEM, parsed, source="registry", verified=True, document=data)
        if index_digest and reference.startswith("sha256:"):
            note_name(s, out.image.id, f"{host}/{repository}", tag, reference, index_digest=index_digest,
                      platform=platform)
        result = {"image": out.image.digest, "created": out.created, "findings": out.findings,
                  **({"platform": platform, "index": index_digest} if index_digest else {})}
    from containerguard.server.services import trend

    trend.record_today(ctx.tx)
    return result
