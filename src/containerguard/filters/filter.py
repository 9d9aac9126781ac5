"""Finding filters (severity, unfixed, ignore file, VEX) and the CI gate."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from containerguard.filters.ignore import IgnoreFile, IgnoreRule, load_ignore_file
from containerguard.filters.vex import SUPPRESSING, VexDocument, VexStatement, VexSubject, load_vex
from containerguard.model import Finding, FindingKind, Severity


@dataclass(frozen=True, slots=True)
class FilterResult:
    kept: tuple[Finding, ...]
    #: suppressed by an ignore entry or a VEX statement; ``suppressed_by`` says which and why
    suppressed: tuple[Finding, ...]
    #: ignore entries past their expiry date: they no longer suppress anything
    expired_ignores: tuple[IgnoreRule, ...]
    #: dropped by --severity or --ignore-unfixed (not reported as suppressed)
    dropped: tuple[Finding, ...] = ()


def is_unfixed(f: Finding) -> bool:
    return f.kind is FindingKind.VULNERABILITY and not f.fixed_versions


def filter_findings(
    findings: Iterable[Finding],
    *,
    severities: Iterable[Severity] | None = None,
    ignore_unfixed: bool = False,
    ignore_file: IgnoreFile | str | Path | None = None,
    vex: VexDocument | str | Path | Sequence[VexDocument | str | Path] | None = None,
    today: dt.date | None = None,
    subject: VexSubject | None = None,
) -> FilterResult:
    """Apply the filters in this order: severity, unfixed, ignore file, VEX. ``subject`` is the scanned
    image as VEX image products name it (statements about images apply only to it; None: to nothing)."""
    today = today or dt.datetime.now(dt.UTC).date()
    sev = set(severities) if severities is not None else None
    ignores = ignore_file if isinstance(ignore_file, IgnoreFile) or ignore_file is None else load_ignore_file(ignore_file)
    active = [r for r in ignores.rules if not r.expired(today)] if ignores else []
    expired = tuple(r for r in ignores.rules if r.expired(today)) if ignores else ()
    vex_docs = _vex_docs(vex)
    # active entries by upper-cased id, with their file position: a finding tests only the entries
    # about its own ids, and the first of those in file order still wins
    by_id: dict[str, list[tuple[int, IgnoreRule]]] = {}
    for i, r in enumerate(active):
        by_id.setdefault(r.id.upper(), []).append((i, r))

    kept: list[Finding] = []
    suppressed: list[Finding] = []
    dropped: list[Finding] = []
    for f in findings:
        if (sev is not None and f.severity not in sev) or (ignore_unfixed and is_unfixed(f)):
            dropped.append(f)
            continue
        rule = _first_ignore(by_id, f) if by_id else None
        if rule is not None:
            sup = {"source": "ignore-file", "entry": rule.source, "reason": rule.reason}
            suppressed.append(dataclasses.replace(f, suppressed_by=rule.describe(), extra={**f.extra, "suppression": sup}))
            continue
        stmt = _vex_decision(vex_docs, f, subject)
        if stmt is not None:
            info = {"source": "vex", "document": stmt.source, "status": stmt.status,
                    "justification": stmt.justification, "impact_statement": stmt.impact_statement,
                    "action_statement": stmt.action_statement}
            if stmt.status in SUPPRESSING:
                suppressed.append(dataclasses.replace(f, suppressed_by=stmt.describe(),
                                                      extra={**f.extra, "suppression": info}))
                continue
            f = dataclasses.replace(f, extra={**f.extra, "vex": info})
        kept.append(f)
    return FilterResult(tuple(kept), tuple(suppressed), expired, tuple(dropped))


def _first_ignore(by_id: dict[str, list[tuple[int, IgnoreRule]]], f: Finding) -> IgnoreRule | None:
    cands = {i: r for n in (f.id, *f.aliases) for i, r in by_id.get(n.upper(), ())}
    return next((cands[i] for i in sorted(cands) if cands[i].matches(f)), None)


def _vex_docs(vex: VexDocument | str | Path | Sequence[VexDocument | str | Path] | None) -> list[VexDocument]:
    if vex is None:
        return []
    items: Sequence[VexDocument | str | Path] = [vex] if isinstance(vex, VexDocument | str | Path) else vex
    return [v if isinstance(v, VexDocument) else load_vex(v) for v in items]


def _vex_decision(docs: list[VexDocument], f: Finding, subject: VexSubject | None) -> VexStatement | None:
    best: VexStatement | None = None
    for d in docs:
        s = d.decide(f, subject)
        if s is not None and (best is None or s.timestamp >= best.timestamp):
            best = s
    return best


def gate(findings: Iterable[Finding], fail_on: Severity | None, exit_code: int) -> int:
    """The CI exit code: ``exit_code`` when a finding reaches ``fail_on`` (any finding when None), else 0."""
    items = list(findings)
    if fail_on is None:
        return exit_code if items else 0
    return exit_code if any(f.severity >= fail_on for f in items) else 0
