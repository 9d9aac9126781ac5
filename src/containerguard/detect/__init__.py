"""Inventory x vulnerability database -> Findings (``match``); rescans of stored inventories are :func:`containerguard.scanner.rescan`."""

from __future__ import annotations

from containerguard.detect.matcher import (
    Matcher,
    MatchResult,
    MatchStats,
    ecosystem_for,
    match,
    match_name_version,
)

__all__ = ["MatchResult", "MatchStats", "Matcher", "ecosystem_for", "match", "match_name_version"]
