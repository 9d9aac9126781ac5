"""OpenVEX input (v0.2.0; the older v0.0.x string form of ``vulnerability`` is accepted too).

A statement applies to a finding when its vulnerability (name or any alias) equals the finding id or
one of its aliases, and one of its products covers the finding, as the OpenVEX specification scopes it:

* a package product (any purl but an image's) covers the findings of the packages its purl matches
  (version and qualifiers optional: given ones must match);
* an image product (``pkg:oci``/``pkg:docker``, or an image digest in ``hashes``) applies only when it
  names the scanned image (:class:`VexSubject`): its digest is the image's config or manifest digest,
  or, without a digest, its repository (``repository_url``, or the docker purl's namespace/name; the
  oci purl's bare name compares with the repository's last segment) and tag if given are the image's.
  Then its ``subcomponents`` are the packages covered, or, without subcomponents, every package;
* a statement about another image, or one whose image cannot be told (no subject known), covers nothing.

When several statements apply, the latest one (statement timestamp, else the document timestamp, else
document order) wins.

``not_affected`` and ``fixed`` suppress; ``affected`` and ``under_investigation`` keep the finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from containerguard.errors import PolicyError
from containerguard.filters.ignore import purl_matches
from containerguard.inputfile import read_input
from containerguard.model import Finding, ImageMeta

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
    hashes: dict[str, str] = Field(default_factory=dict)

    def digests(self) -> list[str]:
        return [f"{alg.replace('-', '').lower()}:{h.lower()}" for alg, h in self.hashes.items() if h]


def _repo(ref: str) -> str:
    """A repository name as Docker normalises it: ``debian`` -> ``docker.io/library/debian``."""
    r = ref.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    first, _, rest = r.partition("/")
    if not rest:
        return f"docker.io/library/{r}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{r}"
    return f"docker.io/{rest}" if first in ("index.docker.io", "registry-1.docker.io") else r


def _split_ref(ref: str) -> tuple[str, str, str]:
    """``host/repo:tag@sha256:...`` -> (repository, tag, digest), each "" when absent."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return (_repo(name) if name else ""), tag, digest.lower()


@dataclass(frozen=True, slots=True)
class VexSubject:
    """The scanned image as VEX products name it: normalised repositories, (repository, tag) pairs and
    digests (config digest, manifest digests)."""

    repositories: frozenset[str] = frozenset()
    tags: frozenset[tuple[str, str]] = frozenset()
    digests: frozenset[str] = frozenset()

    @classmethod
    def of(cls, refs: Iterable[str] = (), image: ImageMeta | None = None) -> VexSubject:
        """From image references (``debian:12``, ``host/repo@sha256:...``, a bare digest) and image metadata."""
        repos: set[str] = set()
        tags: set[tuple[str, str]] = set()
        digests: set[str] = set()
        all_refs = list(refs)
        if image is not None:
            all_refs += [*image.repo_tags, *image.repo_digests]
            if image.id:
                digests.add(image.id.lower())
        for ref in all_refs:
            if not ref:
                continue
            if ref.startswith("sha256:"):
                digests.add(ref.lower())
                continue
            repo, tag, digest = _split_ref(ref)
            if repo:
                repos.add(repo)
                if tag:
                    tags.add((repo, tag))
            if digest:
                digests.add(digest)
        return cls(frozenset(repos), frozenset(tags), frozenset(digests))

    def names(self, product: str) -> bool:
        """True when the image purl ``product`` names this image."""
        try:
            purl = PackageURL.from_string(product)
        except ValueError:
            return False
        q = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
        version = (purl.version or "").lower()
        tag = q.get("tag", "")
        if purl.type == "docker" and version and not version.startswith("sha256:"):
            tag, version = version, ""
        if version.startswith("sha256:"):
            return version in self.digests
        if purl.type == "oci" and not q.get("repository_url"):
            repos = {r for r in self.repositories if r.rsplit("/", 1)[-1] == purl.name.lower()}
        else:
            path = f"{purl.namespace}/{purl.name}" if purl.namespace else purl.name
            base = q.get("repository_url", "")
            full = _repo(base if purl.type == "oci" else (f"{base.rstrip('/')}/{path}" if base else path))
            repos = {full} & self.repositories
        if not repos:
            return False
        return not tag or any((r, tag) in self.tags for r in repos)


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
    products: tuple[str, ...]  # package purls of products without subcomponents
    #: image products (purl or "sha256:..." digest) and the subcomponent purls each covers (() = every package)
    images: tuple[tuple[str, tuple[str, ...]], ...]
    status: str
    justification: str
    impact_statement: str
    action_statement: str
    timestamp: str
    order: int
    source: str

    def names(self) -> set[str]:
        return {n.upper() for n in (self.vulnerability, *self.aliases) if n}

    def applies(self, f: Finding, subject: VexSubject | None = None) -> bool:
        if not self.names() & {f.id.upper(), *(a.upper() for a in f.aliases)}:
            return False
        purl = f.package.purl if f.package is not None else ""
        if purl and any(purl_matches(p, purl) for p in self.products):
            return True
        if subject is None:
            return False
        for image, subs in self.images:
            if not (image in subject.digests if image.startswith("sha256:") else subject.names(image)):
                continue
            if not subs or (purl and any(purl_matches(p, purl) for p in subs)):
                return True
        return False

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

    def decide(self, f: Finding, subject: VexSubject | None = None) -> VexStatement | None:
        """The statement that wins for this finding in the scanned image ``subject``, if any applies."""
        by_name = self._by_name
        cands = {s.order: s for n in (f.id, *f.aliases) for s in by_name.get(n.upper(), ())}
        hits = [s for s in cands.values() if s.applies(f, subject)]
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
        images: list[tuple[str, tuple[str, ...]]] = []
        for p in st.products:
            subs = tuple(u for c in p.subcomponents for u in c.purls())
            image_ids = [u for u in p.purls() if u.startswith(IMAGE_PURL_TYPES)] + p.digests()
            images.extend((i, subs) for i in image_ids)
            if not image_ids:
                # a package product; its subcomponents (packages inside a package) are covered the same way
                products.extend([*p.purls(), *subs] if subs else p.purls())
        out.append(
            VexStatement(
                vulnerability=vuln,
                aliases=tuple(st.vulnerability.aliases),
                products=tuple(products),
                images=tuple(images),
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
    data = read_input(p, MAX_VEX_BYTES, PolicyError, "VEX document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{p}: cannot read VEX document: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return parse_vex(text, str(p))
