"""Check metadata: every misconfiguration / compliance check's stable id, title, severity and references.

The metadata is written in ``data/checks.yaml`` (one entry per check, with comments). Code refers to checks
only by id and builds findings through :func:`make_finding`, so titles, severities and remediation text are
edited in one place.

Loading is on the start-up path of every ``containerguard config`` run (issue 9: a single Dockerfile is
checked in well under a tenth of a second), so the built-in catalog is read from ``data/checks.json``, the
same entries compiled from the YAML at build time (``python -m containerguard.misconfig.catalog``; a unit
test fails when the two differ). Either file goes through the same explicit checks into frozen
dataclasses: a bad entry is refused with the file, the entry and the field, without pydantic's import and
model-building cost (about 40 ms of a 100 ms run).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from containerguard.errors import MisconfigError
from containerguard.model import Finding, FindingKind, Severity

_ID = re.compile(r"^CG-(DF|K8S|IMG|CIS-\d+(\.\d+)+)(-\d{3})?$")
_SOURCE = "containerguard/misconfig/data/checks.yaml"
_COMPILED = "containerguard/misconfig/data/checks.json"


@dataclass(frozen=True, slots=True)
class References:
    cwe: tuple[str, ...] = ()
    pss: str = ""  # Pod Security Standards control (e.g. "baseline: Privileged Containers")
    cis: str = ""  # CIS benchmark id (e.g. "Docker 1.6: 5.5")
    hadolint: str = ""  # the hadolint rule this check corresponds to (DL3008)
    checkov: tuple[str, ...] = ()  # Checkov check ids covering the same control
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """One check's metadata, as written in ``checks.yaml``."""

    id: str
    title: str
    severity: Severity
    description: str
    remediation: str
    kind: FindingKind = FindingKind.MISCONFIG
    references: References = References()

    def reference_list(self) -> tuple[str, ...]:
        r = self.references
        out = [f"hadolint:{r.hadolint}"] if r.hadolint else []
        out += [f"CIS {r.cis}"] if r.cis else []
        out += [f"PSS {r.pss}"] if r.pss else []
        out += [f"checkov:{c}" for c in r.checkov]
        out += list(r.urls)
        return tuple(out)


class _Bad(ValueError):
    """One field of one entry is wrong: ``field`` and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


_TEXT_FIELDS = ("title", "description", "remediation")
_ENTRY_KEYS = frozenset(("id", "kind", "severity", "references", *_TEXT_FIELDS))
_REF_STR = ("pss", "cis", "hadolint")
_REF_LIST = ("cwe", "checkov", "urls")


def _text(entry: Mapping[str, Any], key: str) -> str:
    v = entry.get(key)
    if not isinstance(v, str):
        raise _Bad(key, "missing" if v is None else f"expected text, got {type(v).__name__}")
    if len(v.strip()) < 3:
        raise _Bad(key, "should have at least 3 characters")
    return v


def _references(raw: Any) -> References:
    if raw is None:
        return References()
    if not isinstance(raw, Mapping):
        raise _Bad("references", "expected a mapping")
    unknown = sorted(set(raw) - set(_REF_STR) - set(_REF_LIST), key=str)
    if unknown:
        raise _Bad(f"references.{unknown[0]}", "unknown key")
    kw: dict[str, Any] = {}
    for k in _REF_STR:
        if k in raw:
            if not isinstance(raw[k], str):
                raise _Bad(f"references.{k}", "expected text")
            kw[k] = raw[k]
    for k in _REF_LIST:
        if k in raw:
            v = raw[k]
            if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
                raise _Bad(f"references.{k}", "expected a list of text")
            kw[k] = tuple(v)
    return References(**kw)


def check_entry(entry: Any) -> CheckMeta:
    """One catalog entry as a :class:`CheckMeta`, every field checked (raises ``_Bad`` naming the field)."""
    if not isinstance(entry, Mapping):
        raise _Bad("entry", "expected a mapping")
    unknown = sorted(set(entry) - _ENTRY_KEYS, key=str)
    if unknown:
        raise _Bad(str(unknown[0]), "unknown key")
    ident = entry.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise _Bad("id", f"check id {ident!r} does not look like CG-DF-001, CG-K8S-001, CG-IMG-001 or CG-CIS-2.1")
    sev_raw = entry.get("severity")
    sev = sev_raw if isinstance(sev_raw, Severity) else Severity.parse(str(sev_raw)) if sev_raw is not None else None
    if sev is None or sev is Severity.UNKNOWN:
        raise _Bad("severity", f"unknown severity {sev_raw!r}")
    kind_raw = entry.get("kind", FindingKind.MISCONFIG)
    try:
        kind = kind_raw if isinstance(kind_raw, FindingKind) else FindingKind(str(kind_raw).lower())
    except ValueError:
        raise _Bad("kind", f"unknown kind {kind_raw!r}") from None
    title, description, remediation = (_text(entry, k) for k in _TEXT_FIELDS)
    return CheckMeta(id=ident, title=title, severity=sev, description=description, remediation=remediation,
                     kind=kind, references=_references(entry.get("references")))


def build_catalog(raw: Any, source: str) -> dict[str, CheckMeta]:
    """A parsed catalog document (``{"checks": [...]}``) checked entry by entry; raises MisconfigError naming
    the source, the entry and the field."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("checks"), list):
        raise MisconfigError(f"{source}: expected a mapping with a 'checks' list")
    out: dict[str, CheckMeta] = {}
    for i, entry in enumerate(raw["checks"]):
        try:
            meta = check_entry(entry)
        except _Bad as exc:
            ident = entry.get("id", f"#{i}") if isinstance(entry, Mapping) else f"#{i}"
            raise MisconfigError(f"{source}: check {ident}: {exc.field}: {exc}") from None
        if meta.id in out:
            raise MisconfigError(f"{source}: duplicate check id {meta.id}")
        out[meta.id] = meta
    return out


def load_catalog_text(text: str, source: str = "checks.yaml") -> dict[str, CheckMeta]:
    """Parse (hardened YAML) and check a catalog; raises MisconfigError naming the source and the bad entry."""
    from containerguard import yamlsafe

    return build_catalog(yamlsafe.load(text, source, error=MisconfigError), source)


def _data(name: str) -> str:
    return resources.files("containerguard.misconfig").joinpath(f"data/{name}").read_text("utf-8")


def compiled_text() -> str:
    """``checks.json`` as :func:`compile_catalog` writes it from the current ``checks.yaml``."""
    from containerguard import yamlsafe

    raw = yamlsafe.load(_data("checks.yaml"), _SOURCE, error=MisconfigError)
    build_catalog(raw, _SOURCE)  # refuse to compile a bad catalog
    return json.dumps(raw, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


@functools.cache
def catalog() -> dict[str, CheckMeta]:
    """The built-in catalog (loaded once, from the compiled ``checks.json``)."""
    try:
        raw = json.loads(_data("checks.json"))
    except (OSError, ValueError) as exc:
        raise MisconfigError(f"{_COMPILED}: cannot read the compiled check catalog ({exc}); "
                             "run python -m containerguard.misconfig.catalog") from None
    return build_catalog(raw, _COMPILED)


def meta(check_id: str) -> CheckMeta:
    try:
        return catalog()[check_id]
    except KeyError:
        raise MisconfigError(f"unknown check id {check_id}") from None


def make_finding(
    check_id: str,
    *,
    target: str = "",
    path: str = "",
    line: int | None = None,
    message: str = "",
    match: str = "",
    extra: Mapping[str, Any] | None = None,
    subject: str = "",
) -> Finding:
    """A Finding for one failed check. ``message`` is the per-occurrence detail (prepended to the description)."""
    m = meta(check_id)
    desc = f"{message}. {m.description}" if message else m.description
    ex = dict(extra or {})
    if message:
        ex.setdefault("message", message)
    return Finding(
        kind=m.kind,
        id=m.id,
        title=m.title,
        severity=m.severity,
        target=target,
        path=path,
        line=line,
        description=desc,
        remediation=m.remediation,
        references=_refs(check_id),
        cwe=m.references.cwe,
        match=match,
        extra=ex,
        subject=subject,
    )


@functools.cache
def _refs(check_id: str) -> tuple[str, ...]:
    return meta(check_id).reference_list()


def main(argv: list[str] | None = None) -> int:
    """``python -m containerguard.misconfig.catalog``: write ``data/checks.json`` from ``data/checks.yaml``."""
    from pathlib import Path

    target = Path(__file__).with_name("data") / "checks.json"
    target.write_text(compiled_text(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
