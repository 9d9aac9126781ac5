"""FIRST EPSS scores (gzip CSV: ``#model_version...`` comment, header ``cve,epss,percentile``, rows)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from containerguard.vulndb.sources.base import Sink, SourceCorrupt, SourceSpec, SourceStats, VersionCheck


def parse(spec: SourceSpec, path: Path, sink: Sink, stats: SourceStats, versions: VersionCheck) -> None:
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceCorrupt(f"{spec.name}: not a readable gzip CSV ({exc})") from exc
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("cve,"):
            continue
        parts = line.split(",")
        if len(parts) < 3 or not parts[0].startswith("CVE-"):
            stats.skip("EPSS row")
            continue
        try:
            score, pct = float(parts[1]), float(parts[2])
        except ValueError:
            stats.skip("EPSS row")
            continue
        if not (0.0 <= score <= 1.0 and 0.0 <= pct <= 1.0):
            stats.skip("EPSS row")
            continue
        sink.epss((spec.name, parts[0], score, pct))
        stats.records += 1
