"""Images, their inventories and findings: ingest of a scan upload, listing, replacing findings after a
(re)match. Parsing and matching are the library's (``containerguard.scanner``, ``report.native``); this
module only stores and queries.

Identity: an image is its config digest (``image.id`` in the native JSON). A CI upload *claims* that
digest; the server cannot check it, so a claimed inventory never replaces a different one stored under
the same digest (409), and an upload whose name/tag already points at another digest is stored under its
own digest as a new image (the tag moves; the old image keeps its inventory and findings).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import zstandard
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    union,
    update,
)
from sqlalchemy.orm import Session

from containerguard.errors import ContainerGuardError
from containerguard.model import Finding as MFinding
from containerguard.model import Inventory, Severity
from containerguard.server.services import Conflict, Invalid, NotFound
from containerguard.server.services.audit import Actor, record
from containerguard.server.services.events import finding_events, raise_event
from containerguard.server.services.exceptions import refresh_cover
from containerguard.server.store import dialect_insert
from containerguard.server.store.models import Finding, Image, ImageName, utcnow
from containerguard.server.store.models import Inventory as InventoryRow

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: one zstd compressor and decompressor per thread: their contexts must not be used by two threads at once (the
#: API's thread pool and the job threads ingest concurrently; a shared compressor crashed the process)
_ZSTD = threading.local()
MAX_INVENTORY_BYTES = 512 << 20


def fingerprint(f: MFinding) -> str:
    pkg = ""
    if f.package is not None:
        pkg = f.package.purl or f"{f.package.type}:{f.package.name}@{f.package.version}"
    return hashlib.sha256(f"{f.kind}|{f.id}|{pkg}|{f.path}|{f.line or ''}".encode()).hexdigest()


def packages_digest(inv: Inventory) -> str:
    """What identifies an inventory's content for dedup and forgery checks: the sorted package set."""
    h = hashlib.sha256()
    for key in sorted(f"{p.type}\x00{p.name}\x00{p.version}\x00{p.purl}" for p in inv.packages):
        h.update(key.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def compress(data: bytes) -> bytes:
    zc = getattr(_ZSTD, "c", None)
    if zc is None:
        zc = _ZSTD.c = zstandard.ZstdCompressor(level=6)
    return zc.compress(data)


def decompress(data: bytes) -> bytes:
    zd = getattr(_ZSTD, "d", None)
    if zd is None:
        zd = _ZSTD.d = zstandard.ZstdDecompressor()
    return zd.decompress(data, max_output_size=MAX_INVENTORY_BYTES)


@dataclass(frozen=True)
class ParsedUpload:
    inventory: Inventory
    findings: tuple[MFinding, ...]  # from a native scan document; empty for a plain SBOM
    has_findings: bool
    digest: str
    names: tuple[tuple[str, str, str], ...]  # (repository, tag, manifest digest)


def _split_name(ref: str) -> tuple[str, str, str]:
    """``host/repo:tag`` / ``repo@sha256:..`` -> (repository, tag, manifest digest)."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag, digest if DIGEST.match(digest) else ""


#: C0 and C1 controls and DEL: no image reference holds one (a CR/LF in a name reached a response header)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _no_nul(data: bytes) -> bytes:
    """A NUL (``\\u0000``) in a string of the document becomes U+FFFD. A package name or a file in a hostile
    image can carry one; PostgreSQL's text refuses it, so the image would never reach the server's inventory
    there (SQLite would store it): replaced, the upload is stored the same on both backends."""
    if b"\\u0000" not in data:
        return data
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", data)


def parse_upload(data: bytes, *, digest: str | None = None, name: str | None = None) -> ParsedUpload:
    """Read a scan upload: the native JSON of ``scan --format json`` (inventory and findings) or an SBOM
    (CycloneDX, SPDX, native ``sbom`` output; the server matches it). Raises Invalid with one line."""
    from containerguard.scanner import parse_inventory

    data = _no_nul(data)
    try:
        inv = parse_inventory(data, "upload")
    except ContainerGuardError as exc:
        raise Invalid(str(exc)) from exc
    findings: tuple[MFinding, ...] = ()
    has_findings = False
    if data.lstrip()[:1] == b"{" and b'"schema_version"' in data[:4096] and b'"findings"' in data:
        from containerguard.report.native import load_findings

        try:
            kept, _suppressed = load_findings(data)
        except ContainerGuardError as exc:
            raise Invalid(str(exc)) from exc
        from containerguard.scanner import redact_findings

        # reports do not mask: a document from an older client (or written by hand) can carry raw secrets,
        # so uploaded findings go through the scanner's one redaction before they are stored
        findings = redact_findings(kept)
        has_findings = True
    claimed = digest or (inv.image.id if inv.image is not None else "")
    if not claimed:
        raise Invalid("the upload names no image digest (scan an image, or pass ?digest=sha256:...)")
    if not DIGEST.match(claimed):
        raise Invalid(f"invalid image digest {claimed[:80]!r} (expected sha256: and 64 hex digits)")
    if inv.image is not None and inv.image.id and digest and inv.image.id != digest:
        raise Invalid(f"digest {digest} does not match the document's image id {inv.image.id}")
    if name and _CONTROL.search(name):
        raise Invalid("the image name (?name=) holds a control character: no image reference does")
    names: list[tuple[str, str, str]] = []
    refs = [name] if name else []
    if inv.image is not None:
        refs += list(inv.image.repo_tags) + list(inv.image.repo_digests)
    for ref in refs:
        if not ref or len(ref) > 700 or _CONTROL.search(ref):  # a forged document's name: not an image reference
            continue
        names.append(("", "", ref) if DIGEST.match(ref) else _split_name(ref))
    scheme, _, rest = inv.target.partition(":")
    if not any(n[0] for n in names) and scheme in ("docker", "registry") and rest:
        names.insert(0, _split_name(rest))
    return ParsedUpload(inv, findings, has_findings, claimed, tuple(dict.fromkeys(names)))


_BUCKETS = {Severity.CRITICAL: "critical", Severity.HIGH: "high", Severity.MEDIUM: "medium", Severity.LOW: "low"}


def _zero_counts() -> dict[str, Any]:
    return {"critical": 0, "high": 0, "medium": 0, "low": 0, "other": 0, "kev": 0, "max_risk": 0.0}


def finding_row(image_id: int, f: MFinding) -> dict[str, Any]:
    p = f.package
    return {
        "image_id": image_id, "fingerprint": fingerprint(f), "kind": str(f.kind), "vuln_id": f.id[:128],
        "title": f.title[:2000], "severity": int(f.severity), "package_name": (p.name if p else "")[:256],
        "package_version": (p.version if p else "")[:128], "package_type": (p.type if p else "")[:32],
        "purl": p.purl if p else "", "path": f.path, "fixed_version": ", ".join(f.fixed_versions)[:256],
        "status": f.status[:32], "cvss_score": f.cvss_score, "epss": f.epss, "kev": f.kev, "risk": f.risk,
    }


def replace_findings(session: Session, image: Image, findings: Sequence[MFinding], *,
                     kinds: frozenset[str] | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Make the image's stored findings (of ``kinds``; None: all) equal ``findings``; keep ``first_seen`` of
    those that stay. Returns the rows that are new. Updates the image's counts."""
    return replace_findings_many(session, [(image, findings)], kinds=kinds, now=now)[image.id].new


@dataclass(frozen=True)
class Replaced:
    had: int  # stored findings (of the kinds replaced) before
    new: list[dict[str, Any]]  # rows inserted now


def replace_findings_many(session: Session, batch: Sequence[tuple[Image, Sequence[MFinding]]], *,
                          kinds: frozenset[str] | None = None, now: dt.datetime | None = None) -> dict[int, Replaced]:
    """``replace_findings`` for many images with a few bulk statements: one read of the stored fingerprints, then
    only the difference is written (a delete of the findings gone, an insert of the new ones, an update of those
    whose risk, KEV, EPSS or severity moved), one exception-cover refresh and one count of every image. The
    findings gone are counted as resolved ``now`` (``trend.note_resolved``), new ones are first seen ``now``."""
    at = now or utcnow()
    wanted: dict[int, dict[str, dict[str, Any]]] = {}
    for image, findings in batch:
        rows = wanted.setdefault(image.id, {})
        for f in findings:
            r = finding_row(image.id, f)
            r["first_seen"] = at
            rows.setdefault(r["fingerprint"], r)
    existing: dict[int, dict[str, Any]] = {i: {} for i in wanted}  # fingerprint -> stored row
    ids = list(wanted)
    for i in range(0, len(ids), 500):
        q = select(Finding.id, Finding.image_id, Finding.fingerprint, Finding.risk, Finding.kev, Finding.epss,
                   Finding.severity, Finding.first_seen).where(Finding.image_id.in_(ids[i:i + 500]))
        if kinds is not None:
            q = q.where(Finding.kind.in_(kinds))
        for row in session.execute(q):
            existing[row.image_id][row.fingerprint] = row
    gone: list[int] = []
    resolved: list[tuple[dt.datetime, int]] = []  # (first seen, severity) of each finding gone
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    out: dict[int, Replaced] = {}
    for image_id, rows in wanted.items():
        had = existing[image_id]
        gone += [r.id for fp, r in had.items() if fp not in rows]
        resolved += [(r.first_seen, r.severity) for fp, r in had.items() if fp not in rows]
        added = [r for fp, r in rows.items() if fp not in had]
        new += added
        out[image_id] = Replaced(len(had), added)
        for fp, r in rows.items():
            old = had.get(fp)
            if old is not None and (old.risk, old.kev, old.epss, old.severity) != (r["risk"], r["kev"], r["epss"],
                                                                                  r["severity"]):
                changed.append({"id": old.id, "risk": r["risk"], "kev": r["kev"], "epss": r["epss"],
                                "severity": r["severity"]})
    for i in range(0, len(gone), 500):
        session.execute(delete(Finding).where(Finding.id.in_(gone[i:i + 500])))
    if resolved:
        from containerguard.server.services import trend

        trend.note_resolved(session, resolved, at.date())
    if new:
        session.execute(insert(Finding), new)
        refresh_cover(session, image_ids=sorted({r["image_id"] for r in new}))
    if changed:
        session.execute(update(Finding), changed)
    refresh_counts_many(session, [image for image, _ in batch])
    return out


def refresh_counts(session: Session, image: Image) -> None:
    refresh_counts_many(session, [image])


def refresh_counts_many(session: Session, batch: Sequence[Image]) -> None:
    """Set each image's severity counts, KEV count and maximum risk from its stored findings (one grouped query
    per 500 images)."""
    counts = {image.id: _zero_counts() for image in batch}
    ids = list(counts)
    for i in range(0, len(ids), 500):
        q = (select(Finding.image_id, Finding.severity, func.count(), func.sum(case((Finding.kev.is_(True), 1), else_=0)),
                    func.max(Finding.risk))
             .where(Finding.image_id.in_(ids[i:i + 500])).group_by(Finding.image_id, Finding.severity))
        for image_id, sev, n, kev, risk in session.execute(q):
            c = counts[image_id]
            c[_BUCKETS.get(Severity(sev), "other")] += n
            c["kev"] += int(kev or 0)
            c["max_risk"] = max(c["max_risk"], float(risk or 0.0))
    for image in batch:
        for k, v in counts[image.id].items():
            setattr(image, k, v)


def _touch_names(session: Session, image: Image, names: Sequence[tuple[str, str, str]]) -> None:
    now = utcnow()
    added = False
    for repo, tag, mdigest in names:
        repo, tag = repo[:512], tag[:200]
        row = session.scalars(select(ImageName).where(
            ImageName.image_id == image.id, ImageName.repository == repo, ImageName.tag == tag,
            ImageName.manifest_digest == mdigest)).first()
        if row is None:
            session.add(ImageName(image_id=image.id, repository=repo, tag=tag, manifest_digest=mdigest))
            added = True
        else:
            row.last_seen = now
    if added:  # a repository exception may name the new repository
        session.flush()
        refresh_cover(session, image_ids=[image.id])
    named = [n for n in names if n[0]]
    if named:
        repo, tag, _ = named[0]
        image.name = (f"{repo}:{tag}" if tag else repo)[:512]


@dataclass(frozen=True)
class IngestResult:
    image: Image
    created: bool
    findings: int
    new_findings: int
    needs_match: bool  # an SBOM without findings: the caller queues a match with the server's database


def claim_image(session: Session, digest: str, source: str) -> tuple[Image, bool]:
    """The image row of ``digest`` (created when new: True), locked until the transaction ends, as the first
    write of an upload: a concurrent upload of the same digest waits for this one and then sees what it stored
    (its insert of the same row waits on PostgreSQL; SQLite's write lock is taken by the first write), and a
    rescan chunk holding the row (``FOR UPDATE``) is waited for. Without it two uploads of one new digest both
    inserted it and one failed on the unique digest."""
    ins = dialect_insert(session)(Image).values(digest=digest, source=source)
    created = session.execute(ins.on_conflict_do_nothing(index_elements=["digest"]).returning(Image.id)).first() is not None
    image = session.scalars(select(Image).where(Image.digest == digest).with_for_update()
                            .execution_options(populate_existing=True)).one()
    return image, created


def ingest(session: Session, actor: Actor, upload: ParsedUpload, *, source: str = "ci",
           verified: bool = False, document: bytes | None = None) -> IngestResult:
    """Store one parsed upload (or a server pull when ``verified``). Raises Conflict for a forged digest."""
    inv = upload.inventory
    pdigest = packages_digest(inv)
    image, created = claim_image(session, upload.digest, source)
    stored = session.scalars(select(InventoryRow).where(InventoryRow.image_id == image.id)).first()
    now = utcnow()
    if stored is not None and stored.sha256 != pdigest and (not verified or stored.verified):
        raise Conflict(f"image {upload.digest} already has a different inventory; a claimed digest never "
                       "replaces it (scan from the registry to verify)")
    if stored is not None and stored.sha256 == pdigest:  # the same image again: names and last_seen only
        image.last_seen = now
        _touch_names(session, image, upload.names)
        if verified and not stored.verified:
            stored.verified = True
            image.source = source
        record(session, actor, "scan.upload", "image", upload.digest, duplicate=True)
        total = int(session.scalar(select(func.count()).select_from(Finding).where(Finding.image_id == image.id)) or 0)
        return IngestResult(image, False, total, 0, False)
    doc = compress(document if document is not None else _native(inv))
    if stored is None:
        session.add(InventoryRow(image_id=image.id, sha256=pdigest, document=doc, verified=verified))
    else:
        stored.sha256, stored.document, stored.verified, stored.created_at = pdigest, doc, verified, now
    os_info = inv.os
    image.os_family, image.os_version = os_info.family[:40], os_info.version[:40]
    image.architecture = (inv.image.architecture if inv.image else "")[:40]
    image.package_count = len(inv.packages)
    image.last_seen = image.scanned_at = now
    image.source = source if verified or created else image.source
    _touch_names(session, image, upload.names)
    new = replace_findings(session, image, upload.findings) if upload.has_findings else []
    record(session, actor, "scan.upload", "image", upload.digest, created=created, findings=len(upload.findings),
           name=image.name)
    if new:  # new KEV/critical findings of an image running on a host (agent reports): notification events
        finding_events(session, image, new, running_only=True)
    if created:
        raise_event(session, "image_scanned", f"image {image.name or image.digest} scanned: "
                    f"{image.critical} critical, {image.high} high, {image.kev} KEV",
                    severity=int(Severity.CRITICAL if image.critical else Severity.HIGH if image.high else 0),
                    image_digest=image.digest, source=source)
    return IngestResult(image, created, len(upload.findings), len(new), not upload.has_findings)


def _native(inv: Inventory) -> bytes:
    """The inventory as native JSON (what rescans read back)."""
    from containerguard import __version__
    from containerguard.report import RenderOptions, get_reporter

    text = get_reporter("json")(dataclasses.replace(inv, file_findings=()), [], target=inv.target,
                                tool_version=__version__, options=RenderOptions())
    return text.encode() if isinstance(text, str) else bytes(text)


def stored_document(session: Session, image_id: int) -> bytes:
    row = session.scalars(select(InventoryRow).where(InventoryRow.image_id == image_id)).first()
    if row is None:
        raise NotFound(f"image {image_id} has no stored inventory")
    return decompress(row.document)


def load_stored_inventory(session: Session, image_id: int) -> Inventory:
    from containerguard.scanner import parse_inventory

    row = session.scalars(select(InventoryRow).where(InventoryRow.image_id == image_id)).first()
    if row is None:
        raise NotFound(f"image {image_id} has no stored inventory")
    return parse_inventory(decompress(row.document), f"image {image_id}")


# --------------------------------------------------------------------------- queries

IMAGE_SORTS: dict[str, tuple[Any, ...]] = {"risk": (Image.max_risk.desc(), Image.id.desc()), "last_seen": (Image.last_seen.desc(), Image.id.desc()),
               "name": (Image.name.asc(), Image.id.asc()), "critical": (Image.critical.desc(), Image.id.desc())}


#: the SQLite FTS5 trigram table of migration 1203_image_search (not a model: kept by triggers)
_SEARCH = table("image_search", column("image_id"), column("rowid"))
_HEX = re.compile(r"(sha256:)?[0-9a-f]+")
#: a trigram index answers terms of at least this many characters; shorter ones read every row
TRIGRAM = 3


def _like(term: str) -> str:
    return "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _has_fts(session: Session) -> bool:
    """Whether this SQLite store has the ``image_search`` table (migration 1203 skips it on a SQLite without
    FTS5's trigram tokenizer). Checked once per engine."""
    bind = session.get_bind()
    known = _FTS.get(bind)
    if known is None:
        from sqlalchemy import inspect

        known = _FTS[bind] = inspect(bind).has_table("image_search")
    return known


_FTS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _digest_prefix(term: str) -> str | None:
    hexed = term.lower()
    if _HEX.fullmatch(hexed) and (hexed.startswith("sha256:") or len(hexed) >= 4):
        return hexed if hexed.startswith("sha256:") else f"sha256:{hexed}"
    return None


def search(session: Session, term: str, *, wide: bool = False) -> ColumnElement[bool]:
    """A condition on ``Image``: ``term`` is a substring (case-insensitive) of the image's name or of a
    repository it was seen under; ``wide`` (the console's search box) also matches a substring of its OS
    family, a tag exactly and a digest prefix (``sha256:...``, or 4+ hex digits). A term of 3+ characters goes
    through the trigram index of migration 1203 (SQLite FTS5, PostgreSQL pg_trgm), so the search reads the
    matching rows, not every image; a shorter one (which no trigram index can answer, and which matches much
    of the store anyway) is one pass over the images."""
    term = term.strip()[:200]
    sqlite = session.get_bind().dialect.name == "sqlite"
    prefix = _digest_prefix(term) if wide else None
    pattern = _like(term)

    short = len(term) < TRIGRAM

    def has(col: Any) -> ColumnElement[bool]:
        if sqlite:  # SQLite's LIKE ignores ASCII case already; ILIKE would add lower() on every row
            return col.like(pattern, escape="/")  # type: ignore[no-any-return]
        if term.lower() == term.upper():  # nothing in the term has a case: LIKE matches the same rows, cheaper
            return col.like(pattern, escape="/")  # type: ignore[no-any-return]
        return col.ilike(pattern, escape="/")  # type: ignore[no-any-return]

    if short or (sqlite and not _has_fts(session)):
        conds: list[ColumnElement[bool]] = [
            has(Image.name),
            exists().where(ImageName.image_id == Image.id, or_(has(ImageName.repository),
                                                               *([ImageName.tag == term] if wide else [])))]
        if wide:
            conds.append(has(Image.os_family))
        if prefix:
            conds.append(and_(Image.digest >= prefix, Image.digest < prefix + "g"))
        return or_(*conds)
    ids: list[Any] = []
    if sqlite:
        q = select(_SEARCH.c.image_id).where(literal_column("image_search").op("MATCH")(
            '"' + term.replace('"', '""') + '"'))
        if not wide:  # rowid -2*id-1: an OS family row
            q = q.where(or_(_SEARCH.c.rowid >= 0, _SEARCH.c.rowid % 2 == 0))
        ids.append(q)
    else:  # PostgreSQL: ILIKE is what the pg_trgm GIN indexes answer
        ids += [select(Image.id).where(has(Image.name)),
                select(ImageName.image_id).where(has(ImageName.repository))]
        if wide:
            ids.append(select(Image.id).where(has(Image.os_family)))
    if wide:
        ids.append(select(ImageName.image_id).where(ImageName.tag == term))
    if prefix:
        ids.append(select(Image.id).where(Image.digest >= prefix, Image.digest < prefix + "g"))
    return Image.id.in_(union(*ids) if len(ids) > 1 else ids[0])


def list_images(session: Session, *, limit: int = 50, offset: int = 0, sort: str = "risk",
                name: str | None = None, digests: Sequence[str] | None = None) -> tuple[list[Image], int]:
    if sort not in IMAGE_SORTS:
        raise Invalid(f"unknown sort {sort!r} (expected {', '.join(IMAGE_SORTS)})")
    q = select(Image)
    cq = select(func.count()).select_from(Image)
    if name and name.strip():
        cond = search(session, name)
        q, cq = q.where(cond), cq.where(cond)
    if digests is not None:
        q, cq = q.where(Image.digest.in_(digests)), cq.where(Image.digest.in_(digests))
    rows = list(session.scalars(q.order_by(*IMAGE_SORTS[sort]).limit(limit).offset(offset)))
    return rows, int(session.scalar(cq) or 0)


def get_image(session: Session, ref: str) -> Image:
    """By config digest (``sha256:...``) or numeric id."""
    if ref.isdigit():
        img = session.get(Image, int(ref))
    else:
        img = session.scalars(select(Image).where(Image.digest == ref)).first()
    if img is None:
        raise NotFound(f"no image {ref[:100]}")
    return img


def image_names(session: Session, image_id: int) -> list[ImageName]:
    return list(session.scalars(select(ImageName).where(ImageName.image_id == image_id).order_by(ImageName.last_seen.desc())))


def list_findings(session: Session, *, image_id: int | None = None, limit: int = 100, offset: int = 0,
                  min_severity: int | None = None, kev: bool | None = None, vuln_id: str | None = None,
                  kind: str | None = None, after: tuple[float, int] | None = None) -> tuple[list[Finding], int | None]:
    """Highest risk first (then newest id). The total is counted only for one image (a global count over 10^5+
    rows costs more than the page). ``after`` = the (risk, id) of the last row of the previous page: keyset
    pagination, which reads ``limit`` rows from the (risk, id) indexes however deep the page (``offset`` reads
    and drops every row before it)."""
    q = select(Finding)
    conds = []
    if image_id is not None:
        conds.append(Finding.image_id == image_id)
    if min_severity is not None:
        conds.append(Finding.severity >= min_severity)
    if kev is not None:
        conds.append(Finding.kev.is_(kev))
    if vuln_id:
        conds.append(Finding.vuln_id == vuln_id)
    if kind:
        conds.append(Finding.kind == kind)
    page = [*conds, tuple_(Finding.risk, Finding.id) < tuple_(after[0], after[1])] if after is not None else conds
    q = q.where(*page).order_by(Finding.risk.desc(), Finding.id.desc()).limit(limit).offset(offset)
    rows = list(session.scalars(q))
    total = None
    if image_id is not None:
        total = int(session.scalar(select(func.count()).select_from(Finding).where(*conds)) or 0)
    return rows, total


def finding_cursor(row: Finding) -> str:
    """The cursor after ``row`` (``list_findings(after=parse_finding_cursor(...))``): its risk and id."""
    return f"{row.risk!r}_{row.id}"


_CURSOR = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)_([0-9]{1,19})$")


def parse_finding_cursor(text: str) -> tuple[float, int]:
    m = _CURSOR.match(text) if len(text) <= 64 else None
    if m is None:
        raise Invalid(f"invalid cursor {text[:64]!r} (pass the `next` value of the previous page)")
    return float(m.group(1)), int(m.group(2))


def image_ids_by_digest(session: Session, digests: Iterable[str]) -> dict[str, int]:
    ds = list(set(digests))
    out: dict[str, int] = {}
    for i in range(0, len(ds), 500):
        out.update({r.digest: r.id for r in session.execute(select(Image.digest, Image.id).where(Image.digest.in_(ds[i:i + 500])))})
    return out


__all__ = ["DIGEST", "IngestResult", "ParsedUpload", "Replaced", "get_image", "ingest", "list_findings",
           "list_images", "parse_upload", "replace_findings", "replace_findings_many"]
