"""Rescan: a stored inventory (native JSON, CycloneDX, SPDX, or an ``Inventory``) x a newer vulnerability
database -> Findings, without pulling the image again."""

from __future__ import annotations

from pathlib import Path

from containerguard.detect import match
from containerguard.model import Finding, Inventory
from containerguard.vulndb.store import VulnDB


def rescan(inventory: Inventory | Path | str, db: VulnDB | Path | str | None = None) -> list[Finding]:
    """Re-match a stored inventory without the image. ``db`` is an open handle (reuse it across many
    rescans: its caches make them cheap) or a path (``None``: the default database)."""
    from containerguard.scanner.sbom_input import load_inventory

    inv = inventory if isinstance(inventory, Inventory) else load_inventory(Path(inventory))
    if isinstance(db, VulnDB):
        return match(inv, db)
    with VulnDB(db) as handle:
        return match(inv, handle)
