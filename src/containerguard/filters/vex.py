"""OpenVEX input (v0.2.0; the older v0.0.x string form of ``vulnerability`` is accepted too).

A statement applies to a finding when its vulnerability (name or any alias) equals the finding id or
one of its aliases, and one of its products matches the finding's package purl: directly, through a
``subcomponents`` entry, or as an image product (pkg:oci / pkg:docker) without subcomponents, which
covers every package in it. When several statements apply, the latest one (statement timestamp, else
the document timestamp, else document order) wins, as the OpenVEX specification says.

``not_affected`` and ``fixed`` suppress; ``affected`` and ``under_investigation`` keep the finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from containerguard.errors import PolicyError
from containerguard.filters.ignore import purl_matches
from containerguard.model import Finding

MAX_VEX_BYTES = 32 * 1024 * 1024
SUPPRESSING = frozenset({"not_affected", "fixed"})
IMAGE_PURL_TYPES = ("pkg:oci/", "pkg:docker/")


class _Component(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str = Field(default="", alias="@id")
    identifiers: dict[str, str] = Field(default_factory=dict)

    def purls(self) -> list[str]:
        out = [self.id] if self.id.startswith("pkg:") else []
        if self.identifiers.get("purl"):
            out.append(self.identifiers["purl"])
        return out


class _Product(_Component):
    subcomponents: list[_Component] = Field(default_factory=list)


class _Vulnerability(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = ""
    id: str = Field(default="", alias="@id")
    aliases: list[str] = Field(default_factory=list)


class _Statement(BaseModel):
    model_config = ConfigDict(extra="allow")
    vulnerability: _Vulnerability
    products: list[_Product] = Field(default_factory=list)
    status: Literal["not_affected", "affected", "fixed", "under_investigation"]
    justification: str = ""
    impact_statement: str = ""
    action_statement: str = ""
    status_notes: str = ""
    timestamp: str = ""

    @field_validator("vulnerability", mode="before")
    @classmethod
    def _legacy_string(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("products", mode="before")
    @classmethod
    def _legacy_products(cls, v: Any) -> Any:
        # OpenVEX v0.0.x listed products as plain purl strings
        return [{"@id": p} if isinstance(p, str) else p for p in v] if isinstance(v, list) else v


class _Document(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    context: str = Field(alias="@context")
    id: str = Field(default="", alias="@id")
    author: str = ""
    timestamp: str = ""
    statements: list[_Statement]

    @field_validator("context")
    @classmethod
    def _openvex(cls, v: str) -> str:
        if not v.startswith("https://openvex.dev/ns"):
            raise ValueError("not an OpenVEX document (@context must be https://openvex.dev/ns/...)")
        return v


@dataclass(frozen=True, slots=True)
class VexStatement:
    vulnerability: str
    aliases: tuple[str, ...]
    products: tuple[str, ...]  # purls of products without subcomponents
    subcomponents: tuple[str, ...]
    status: str
    justification: str
    impact_statement: str
    action_statement: str
    timestamp: str
    order: int
    source: str

    def names(self) -> set[str]:
        return {n.upper() for n in (self.vulnerability, *self.aliases) if n}

    def applies(self, f: Finding) -> bool:
        if not self.names() & {f.id.upper(), *(a.upper() for a in f.aliases)}:
            return False
        if any(p.startswith(IMAGE_PURL_TYPES) for p in self.products):
            return True
        purl = f.package.purl if f.package is not None else ""
        if not purl:
            return False
        return any(purl_matches(p, purl) for p in (*self.products, *self.subcomponents))

    def describe(self) -> str:
        parts = [f"vex {self.source}: {self.status}"]
        if self.justification:
            parts.append(f"justification: {self.justification}")
        if self.impact_statement:
            parts.append(f"impact: {self.impact_statement}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class VexDocument:
    source: str
    statements: tuple[VexStatement, ...]
    #: statements by upper-cased vulnerability name and alias, so a finding only tests the statements
    #: about its own ids (not every statement of the document)
    _by_name: dict[str, tuple[VexStatement, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[VexStatement]] = {}
        for s in self.statements:
            for n in s.names():
                index.setdefault(n, []).append(s)
        object.__setattr__(self, "_by_name", {n: tuple(v) for n, v in index.items()})

    def decide(self, f: Finding) -> VexStatement | None:
        """The statement that wins for this finding, if any applies."""
        by_name = self._by_name
        cands = {s.order: s for n in (f.id, *f.aliases) for s in by_name.get(n.upper(), ())}
        hits = [s for s in cands.values() if s.applies(f)]
        if not hits:
            return None
        return max(hits, key=lambda s: (s.timestamp, s.order))


def parse_vex(text: str, source: str) -> VexDocument:
    if len(text) > MAX_VEX_BYTES:
        raise PolicyError(f"{source}: VEX document larger than {MAX_VEX_BYTES} bytes")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise PolicyError(f"{source}: JSON nested too deeply") from exc
    try:
        doc = _Document.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "document"
        raise PolicyError(f"{source}: {loc}: {err['msg']}") from exc
    out: list[VexStatement] = []
    for i, st in enumerate(doc.statements):
        vuln = st.vulnerability.name or st.vulnerability.id
        if not vuln:
            raise PolicyError(f"{source}: statements.{i}.vulnerability: name is required")
        if st.status == "not_affected" and not (st.justification or st.impact_statement):
            raise PolicyError(
                f"{source}: statements.{i}: not_affected needs a justification or an impact_statement"
            )
        products: list[str] = []
        subs: list[str] = []
        for p in st.products:
            if p.subcomponents:
                subs.extend(u for c in p.subcomponents for u in c.purls())
            else:
                products.extend(p.purls())
        out.append(
            VexStatement(
                vulnerability=vuln,
                aliases=tuple(st.vulnerability.aliases),
                products=tuple(products),
                subcomponents=tuple(subs),
                status=st.status,
                justification=st.justification,
                impact_statement=st.impact_statement,
                action_statement=st.action_statement,
                timestamp=st.timestamp or doc.timestamp,
                order=i,
                source=source,
            )
        )
    return VexDocument(source, tuple(out))


def load_vex(path: str | Path) -> VexDocument:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{p}: cannot read VEX document: {exc}") from exc
    return parse_vex(text, str(p))
