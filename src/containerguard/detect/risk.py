"""The risk score that orders findings (documented in docs/risk.md; keep the two in step).

    impact     = CVSS base score / 10, else a value per severity band (table below); a severity of
                 NEGLIGIBLE (a vendor's "negligible"/"unimportant") caps it at that band's value
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


def _factors(severity: Severity, cvss: float | None, epss: float | None, kev: bool, ransomware: bool,
             fixed: bool) -> tuple[float, str, float, str, float]:
    """(impact, why, likelihood, why, fix factor)."""
    if cvss is not None:
        impact, why_i = min(max(cvss / 10.0, 0.0), 1.0), f"CVSS {cvss:.1f}"
    else:
        impact, why_i = BAND_IMPACT[severity], f"{severity.name} band"
    if severity is Severity.NEGLIGIBLE and impact > BAND_IMPACT[Severity.NEGLIGIBLE]:
        # the vendor judged it negligible for this distribution: never above a CRITICAL of the same likelihood
        impact, why_i = BAND_IMPACT[Severity.NEGLIGIBLE], f"{why_i} capped: rated NEGLIGIBLE"
    if kev and ransomware:
        likelihood, why_l = 1.0, "KEV, ransomware use"
    elif kev:
        likelihood, why_l = 0.95, "KEV"
    elif epss is not None:
        likelihood, why_l = epss, f"EPSS {epss:.3f}"
    else:
        likelihood, why_l = EPSS_PRIOR, "no EPSS: prior"
    return impact, why_i, likelihood, why_l, 1.0 if fixed else UNFIXED_FACTOR


def score(*, severity: Severity, cvss: float | None, epss: float | None, kev: bool, ransomware: bool,
          fixed: bool, malicious: bool = False) -> float:
    if malicious:
        return 100.0
    impact, _, likelihood, _, fix = _factors(severity, cvss, epss, kev, ransomware, fixed)
    return round(100.0 * impact * (0.35 + 0.65 * likelihood) * fix, 2)


def explain(*, severity: Severity, cvss: float | None, epss: float | None, kev: bool, ransomware: bool,
            fixed: bool, malicious: bool = False, severity_source: str = "") -> str:
    """Why a finding ranks where it does, in one line (shown in the JSON/HTML reports):
    ``impact 0.98 (CVSS 9.8) x likelihood 0.38 (EPSS 0.050: prior) x fix 1.00 (fixed) = 37.48``."""
    if malicious:
        return "malicious package: always 100"
    impact, why_i, likelihood, why_l, fix = _factors(severity, cvss, epss, kev, ransomware, fixed)
    src = f", severity {severity.name} from {severity_source}" if severity_source else ""
    total = round(100.0 * impact * (0.35 + 0.65 * likelihood) * fix, 2)
    return (f"impact {impact:.2f} ({why_i}{src}) x likelihood {0.35 + 0.65 * likelihood:.2f} ({why_l}) "
            f"x fix {fix:.2f} ({'fixed' if fixed else 'no fix'}) = {total}")
