"""The risk score that orders findings (documented in docs/risk.md; keep the two in step).

    impact     = CVSS base score / 10, else a value per severity band (table below)
    likelihood = 1.0 for KEV with known ransomware use, 0.95 for KEV, else the EPSS score when known,
                 else a prior of 0.05 (the bulk of CVEs sit below that in EPSS)
    fix        = 1.0 when a fixed version exists, 0.85 otherwise (unfixed findings are less actionable)
    risk       = round(100 * impact * (0.35 + 0.65 * likelihood) * fix, 2)

Malicious packages are always 100. The score is in [0, 100]; ties are broken by severity, then id.
"""

from __future__ import annotations

from containerguard.model import Severity

BAND_IMPACT: dict[Severity, float] = {
    Severity.CRITICAL: 0.95,
    Severity.HIGH: 0.8,
    Severity.MEDIUM: 0.55,
    Severity.LOW: 0.3,
    Severity.NEGLIGIBLE: 0.1,
    Severity.UNKNOWN: 0.5,
}
EPSS_PRIOR = 0.05
UNFIXED_FACTOR = 0.85


def score(*, severity: Severity, cvss: float | None, epss: float | None, kev: bool, ransomware: bool,
          fixed: bool, malicious: bool = False) -> float:
    if malicious:
        return 100.0
    impact = min(max(cvss / 10.0, 0.0), 1.0) if cvss is not None else BAND_IMPACT[severity]
    if kev and ransomware:
        likelihood = 1.0
    elif kev:
        likelihood = 0.95
    elif epss is not None:
        likelihood = epss
    else:
        likelihood = EPSS_PRIOR
    fix = 1.0 if fixed else UNFIXED_FACTOR
    return round(100.0 * impact * (0.35 + 0.65 * likelihood) * fix, 2)
