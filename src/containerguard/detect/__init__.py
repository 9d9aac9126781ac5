"""Inventory x vulnerability database -> Findings (``match``), and ``rescan`` of stored inventories."""

from __future__ import annotations

from pathlib import Path

from containerguard.detect.matcher import (
    Matcher,
    MatchResult,
    MatchStats,
    ecosystem_for,
    match,
    match_name_version,
)
from containerguard.model import Finding, Inventory
from containerguard.vulndb.store import VulnDB


def rescan(inventory: Inventory | Path | str, db: VulnDB | Path | str | None = None) -> list[Finding]:
    """Re-match a stored inventory (native inventory JSON, CycloneDX or SPDX JSON, or an Inventory) without
    the image. ``db`` is an open handle (reuse it across many rescans: its caches make them cheap) or a path."""
    from containerguard.sbom_input import load_inventory

    inv = inventory if isinstance(inventory, Inventory) else load_inventory(Path(inventory))
    if isinstance(db, VulnDB):
        return match(inv, db)
    with VulnDB(db) as handle:
        return match(inv, handle)


__all__ = ["MatchResult", "MatchStats", "Matcher", "ecosystem_for", "match", "match_name_version", "rescan"]
