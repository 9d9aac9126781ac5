"""Scoring helpers: CVSS vectors through the ``cvss`` library (the reference implementation of the
FIRST formulas for v2, v3.x and v4.0), and the mapping of a score to a severity band."""

from __future__ import annotations

import functools

from containerguard.model import Severity

# FIRST's qualitative rating scale (the same bands for v3 and v4)


def band(score: float | None) -> Severity:
    if score is None:
        return Severity.UNKNOWN
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.NEGLIGIBLE


@functools.lru_cache(maxsize=65536)
def score_vector(vector: str) -> float | None:
    """Base score of a CVSS v2, v3.0, v3.1 or v4.0 vector; None when the vector is invalid."""
    from cvss import CVSS2, CVSS3, CVSS4  # imported lazily: only the DB build scores vectors

    v = vector.strip()
    try:
        if v.startswith("CVSS:4"):
            return float(CVSS4(v).base_score)
        if v.startswith("CVSS:3"):
            return float(CVSS3(v).base_score)
        return float(CVSS2(v.removeprefix("(").removesuffix(")")).base_score)
    except Exception:  # the library raises its own error tree and ValueErrors on malformed vectors
        return None


#: preference among the vectors of one record: v3 first (what most consumers and KEV/EPSS users compare),
#: then v4, then v2
_PREFERENCE = {"CVSS_V3": 0, "CVSS_V4": 1, "CVSS_V2": 2}


def best_vector(entries: list[tuple[str, str]]) -> tuple[str, float | None]:
    """Choose one (vector, score) from an OSV ``severity`` list of (type, vector)."""
    ranked = sorted((e for e in entries if e[0] in _PREFERENCE), key=lambda e: _PREFERENCE[e[0]])
    for _typ, vec in ranked:
        s = score_vector(vec)
        if s is not None:
            return vec, s
    return "", None
