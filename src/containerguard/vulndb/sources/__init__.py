"""Vulnerability data sources: one module per feed, one registry of parsers (explicit, no import magic)."""

from __future__ import annotations

from containerguard.vulndb.sources import alpine, epss, kev, osv
from containerguard.vulndb.sources.base import Parser, Sink, SourceCorrupt, SourceSpec, SourceStats

#: kind -> parser; the builder looks parsers up here and nowhere else
PARSERS: dict[str, Parser] = {
    "osv": osv.parse,
    "alpine": alpine.parse,
    "kev": kev.parse,
    "epss": epss.parse,
}

__all__ = ["PARSERS", "Parser", "Sink", "SourceCorrupt", "SourceSpec", "SourceStats"]
