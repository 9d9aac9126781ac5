"""Alpine secdb (``secdb.alpinelinux.org/<branch>/{main,community}.json``).

``packages[].pkg.name`` is the aports origin name and ``secfixes`` maps a fixed version to the ids it
fixes. Each (origin, id, fixed version) becomes an ``affected`` row in ecosystem ``Alpine:<branch>`` with
the range introduced 0 / fixed X. The fixed version ``"0"`` means "never affected" and adds no row.
An id entry may carry extra tokens (``CVE-2020-1 ALPINE-123``): the first is the id, the rest aliases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from containerguard.vulndb.sources.base import Sink, SourceCorrupt, SourceSpec, SourceStats, VersionCheck


def parse(spec: SourceSpec, path: Path, sink: Sink, stats: SourceStats, versions: VersionCheck) -> None:
    try:
        doc = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        raise SourceCorrupt(f"{spec.name}: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("packages", []), list):
        raise SourceCorrupt(f"{spec.name}: not an Alpine secdb document")
    eco = f"Alpine:{spec.param}"
    if versions.scheme(eco) is None:
        stats.skip("unknown ecosystem", len(doc.get("packages") or []))
        return
    seen: set[str] = set()
    for item in doc.get("packages") or []:
        pkg: Any = item.get("pkg") if isinstance(item, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            stats.skip("secdb schema")
            continue
        name = pkg["name"]
        fixes = pkg.get("secfixes") or {}
        if not isinstance(fixes, dict):
            stats.skip("secdb schema")
            continue
        for fixed, ids in fixes.items():
            if not isinstance(ids, list):
                stats.skip("secdb schema")
                continue
            if fixed == "0":
                stats.records += len(ids)
                continue
            if not versions.valid(eco, fixed):
                stats.skip("unparseable version", len(ids))
                continue
            ranges = orjson.dumps([["E", [["i", "0"], ["f", fixed]]]]).decode()
            for entry in ids:
                if not isinstance(entry, str) or not entry.split():
                    stats.skip("secdb schema")
                    continue
                tokens = entry.split()
                vid, aliases = tokens[0], tokens[1:]
                stats.records += 1
                sink.affected((spec.name, eco, name, vid, ranges, None, ""))
                if vid not in seen:
                    seen.add(vid)
                    sink.advisory((spec.name, vid, orjson.dumps(aliases).decode(), "[]", "", "", None, "",
                                   "", "", "", "[]", "[]"))
                    for al in aliases:
                        sink.alias((spec.name, al, vid))
