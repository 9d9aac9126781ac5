"""Check metadata: every misconfiguration / compliance check's stable id, title, severity and references.

The metadata lives in ``data/checks.yaml`` (one entry per check) and is validated with pydantic when
loaded; code refers to checks only by id and builds findings through :func:`make_finding`, so titles,
severities and remediation text are edited in one place.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from containerguard import yamlsafe
from containerguard.errors import MisconfigError
from containerguard.model import Finding, FindingKind, Severity

_ID = re.compile(r"^CG-(DF|K8S|IMG|CIS-\d+(\.\d+)+)(-\d{3})?$")


class References(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cwe: tuple[str, ...] = ()
    pss: str = ""  # Pod Security Standards control (e.g. "baseline: Privileged Containers")
    cis: str = ""  # CIS benchmark id (e.g. "Docker 1.6: 5.5")
    hadolint: str = ""  # the hadolint rule this check corresponds to (DL3008)
    checkov: tuple[str, ...] = ()  # Checkov check ids covering the same control
    urls: tuple[str, ...] = ()


class CheckMeta(BaseModel):
    """One check's metadata, as written in ``checks.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: FindingKind = FindingKind.MISCONFIG
    title: str = Field(min_length=3)
    severity: Severity
    description: str = Field(min_length=3)
    remediation: str = Field(min_length=3)
    references: References = References()

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"check id {v!r} does not look like CG-DF-001, CG-K8S-001, CG-IMG-001 or CG-CIS-2.1")
        return v

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Severity:
        if isinstance(v, Severity):
            return v
        sev = Severity.parse(str(v))
        if sev is Severity.UNKNOWN:
            raise ValueError(f"unknown severity {v!r}")
        return sev

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> FindingKind:
        return v if isinstance(v, FindingKind) else FindingKind(str(v).lower())

    def reference_list(self) -> tuple[str, ...]:
        r = self.references
        out = [f"hadolint:{r.hadolint}"] if r.hadolint else []
        out += [f"CIS {r.cis}"] if r.cis else []
        out += [f"PSS {r.pss}"] if r.pss else []
        out += [f"checkov:{c}" for c in r.checkov]
        out += list(r.urls)
        return tuple(out)


def load_catalog_text(text: str, source: str = "checks.yaml") -> dict[str, CheckMeta]:
    """Parse and validate a catalog; raises MisconfigError naming the source and the bad entry."""
    raw = yamlsafe.load(text, source, error=MisconfigError)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("checks"), list):
        raise MisconfigError(f"{source}: expected a mapping with a 'checks' list")
    out: dict[str, CheckMeta] = {}
    for i, entry in enumerate(raw["checks"]):
        try:
            meta = CheckMeta.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            ident = entry.get("id", f"#{i}") if isinstance(entry, Mapping) else f"#{i}"
            raise MisconfigError(f"{source}: check {ident}: {where}: {first['msg']}") from None
        if meta.id in out:
            raise MisconfigError(f"{source}: duplicate check id {meta.id}")
        out[meta.id] = meta
    return out


@functools.cache
def catalog() -> dict[str, CheckMeta]:
    """The built-in catalog (loaded once)."""
    text = resources.files("containerguard.misconfig").joinpath("data/checks.yaml").read_text("utf-8")
    return load_catalog_text(text, "containerguard/misconfig/data/checks.yaml")


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
