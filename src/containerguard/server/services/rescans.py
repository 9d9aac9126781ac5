"""Rescans: stored inventories re-matched with the server's vulnerability database (``scanner.rescan``), no
image pull. Vulnerability and malicious-package findings are replaced; secret and misconfiguration
findings (which need the image's files) stay as scanned. A finding that is new after a rescan raises an
event, ``new_kev_finding`` when it is in CISA KEV, else ``new_finding`` for HIGH and CRITICAL ones, naming the hosts
where the image runs now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from containerguard.model import FindingKind
from containerguard.server.services import images
from containerguard.server.services.events import finding_events_many
from containerguard.server.store import begin_write
from containerguard.server.store.models import Image, Setting, utcnow
from containerguard.server.store.models import Inventory as InventoryRow

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext

MATCHED_KINDS = frozenset({str(FindingKind.VULNERABILITY), str(FindingKind.MALICIOUS)})


def db_build(vulndb: Any) -> str:
    return str(vulndb.status().built_at)


#: images matched and written per transaction (a rescan job's batch is 25 by default)
CHUNK = 100


def rescan_images(ctx: JobContext, image_ids: list[int]) -> dict[str, Any]:
    """Re-match the stored inventories of ``image_ids`` with one open database handle. Per chunk: one read of the
    inventories (a short read transaction), matching outside any transaction, then one write transaction that
    stores only the difference (``images.replace_findings_many``) and raises the events of the whole chunk. The
    write transaction locks before it reads (``store.begin_write`` and ``FOR UPDATE``): an inventory replaced by
    an upload since the first read is seen and kept, and none can be replaced between that check and the write."""
    from containerguard.vulndb import VulnDB

    done = new_total = events = 0
    with VulnDB(ctx.settings.vulndb) as handle:
        build = db_build(handle)
        for i in range(0, len(image_ids), CHUNK):
            d, n, e = _rescan_chunk(ctx, handle, build, image_ids[i:i + CHUNK])
            done, new_total, events = done + d, new_total + n, events + e
    if done:
        from containerguard.server.services import trend

        trend.record_today(ctx.tx)
    return {"images": done, "new_findings": new_total, "events": events, "db": build}


def _rescan_chunk(ctx: JobContext, handle: Any, build: str, ids: list[int]) -> tuple[int, int, int]:
    from containerguard.scanner import parse_inventory, rescan

    with ctx.tx() as s:
        stored = {r.image_id: (r.sha256, r.matched_db, r.created_at, r.document) for r in s.execute(
            select(InventoryRow.image_id, InventoryRow.sha256, InventoryRow.matched_db, InventoryRow.created_at,
                   InventoryRow.document)
            .where(InventoryRow.image_id.in_(ids)))}
    matched = {image_id: rescan(parse_inventory(images.decompress(doc), f"image {image_id}"), handle)
               for image_id, (_sha, _db, _at, doc) in sorted(stored.items())}
    with ctx.tx() as s:
        # one consistent unit from here to the commit: an upload of one of these images (which writes its image
        # row) waits, or has committed and its new inventory is seen below and kept -- SQLite's write lock from
        # the first statement, PostgreSQL's row locks on the images, taken in id order (no deadlock between chunks)
        begin_write(s)
        imgs = {img.id: img for img in s.scalars(select(Image).where(Image.id.in_(list(matched)))
                                                 .order_by(Image.id).with_for_update())}
        now = {r.image_id: r.sha256 for r in s.execute(
            select(InventoryRow.image_id, InventoryRow.sha256).where(InventoryRow.image_id.in_(list(matched))))}
        # an inventory replaced (a new upload) since it was read keeps what that upload stored
        batch = [(imgs[i], found) for i, found in matched.items() if i in imgs and now.get(i) == stored[i][0]]
        if not batch:
            return 0, 0, 0
        result = images.replace_findings_many(s, batch, kinds=MATCHED_KINDS)
        announce = []
        for img, _found in batch:
            r = result[img.id]
            # the first match of an SBOM uploaded without findings announces nothing: nothing is "new" yet
            if r.new and (stored[img.id][1] or r.had):
                announce.append((img, r.new))
        ids_done = [img.id for img, _ in batch]
        s.execute(update(InventoryRow).where(InventoryRow.image_id.in_(ids_done)).values(matched_db=build))
        for img, _found in batch:
            img.scanned_at = img.scanned_at or stored[img.id][2]
        events = finding_events_many(s, announce)
        return len(batch), sum(len(r.new) for r in result.values()), events


def last_db_build(session: Any) -> str:
    row = session.get(Setting, "vulndb_build")
    return row.value if row is not None else ""


def note_db_build(session: Any, build: str) -> None:
    row = session.get(Setting, "vulndb_build")
    if row is None or row.value != build:
        # when the build changed: the console's "new since the last database update" starts here
        at = session.get(Setting, "vulndb_build_at")
        now = utcnow().isoformat()
        if at is None:
            session.add(Setting(key="vulndb_build_at", value=now))
        else:
            at.value = now
    if row is None:
        session.add(Setting(key="vulndb_build", value=build))
    else:
        row.value = build
