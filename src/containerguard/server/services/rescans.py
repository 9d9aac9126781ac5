"""Rescans: stored inventories re-matched with the server's vulnerability database (``scanner.rescan``), no
image pull. Vulnerability and malicious-package findings are replaced; secret and misconfiguration
findings (which need the image's files) stay as scanned. A finding that is new after a rescan raises an
event, ``new_kev_finding`` when it is in CISA KEV, else ``new_finding`` for HIGH and CRITICAL ones, naming the hosts
where the image runs now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from containerguard.model import FindingKind
from containerguard.server.services import images
from containerguard.server.services.events import finding_events
from containerguard.server.store.models import Finding, Image, Setting, utcnow
from containerguard.server.store.models import Inventory as InventoryRow

if TYPE_CHECKING:
    from containerguard.server.jobs import JobContext

MATCHED_KINDS = frozenset({str(FindingKind.VULNERABILITY), str(FindingKind.MALICIOUS)})


def db_build(vulndb: Any) -> str:
    return str(vulndb.status().built_at)


def rescan_images(ctx: JobContext, image_ids: list[int]) -> dict[str, Any]:
    from containerguard.scanner import parse_inventory, rescan
    from containerguard.vulndb import VulnDB

    done = new_total = events = 0
    with VulnDB(ctx.settings.vulndb) as handle:
        build = db_build(handle)
        for image_id in image_ids:
            with ctx.tx() as s:
                row = s.scalars(select(InventoryRow).where(InventoryRow.image_id == image_id)).first()
                img = s.get(Image, image_id)
                if row is None or img is None:
                    continue
                inv = parse_inventory(images.decompress(row.document), f"image {image_id}")
                findings = rescan(inv, handle)
                had = s.scalar(select(func.count()).select_from(Finding).where(
                    Finding.image_id == image_id, Finding.kind.in_(MATCHED_KINDS)))
                # the first match of an SBOM uploaded without findings announces nothing: nothing is "new" yet
                first_match = not row.matched_db and not had
                new = images.replace_findings(s, img, findings, kinds=MATCHED_KINDS)
                row.matched_db = build
                img.scanned_at = img.scanned_at or row.created_at
                done += 1
                new_total += len(new)
                if new and not first_match:
                    events += finding_events(s, img, new)
    if done:
        from containerguard.server.services import trend

        trend.record_today(ctx.tx)
    return {"images": done, "new_findings": new_total, "events": events, "db": build}


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
