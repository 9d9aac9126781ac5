"""CISA Known Exploited Vulnerabilities catalog (JSON): cveID, dateAdded, knownRansomwareCampaignUse."""

from __future__ import annotations

from pathlib import Path

import orjson

from containerguard.vulndb.sources.base import Sink, SourceCorrupt, SourceSpec, SourceStats, VersionCheck


def parse(spec: SourceSpec, path: Path, sink: Sink, stats: SourceStats, versions: VersionCheck) -> None:
    try:
        doc = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        raise SourceCorrupt(f"{spec.name}: not JSON ({exc})") from exc
    vulns = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(vulns, list):
        raise SourceCorrupt(f"{spec.name}: no vulnerabilities list")
    for v in vulns:
        if not isinstance(v, dict) or not isinstance(v.get("cveID"), str) or not isinstance(v.get("dateAdded"), str):
            stats.skip("KEV schema")
            continue
        ransomware = str(v.get("knownRansomwareCampaignUse", "")).strip().lower() == "known"
        sink.kev((spec.name, v["cveID"].strip(), v["dateAdded"], int(ransomware),
                  str(v.get("vulnerabilityName") or ""), str(v.get("dueDate") or "")))
        stats.records += 1
