"""Secret rules: loaded from a YAML data file, validated with pydantic, compiled once.

The built-in rules live in ``rules.yaml`` beside this module. A user rules file has the same shape and
may add rules or extend the allowlist. Every error names the file (and the rule id where known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from containerguard import yamlsafe
from containerguard.errors import SecretsError
from containerguard.model import Severity

BUILTIN_RULES = "rules.yaml"


class _AllowlistModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regexes: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    title: str = Field(min_length=1)
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    keywords: list[str] = Field(min_length=1)
    regex: str | None = Field(default=None, min_length=1)
    regexes: list[str] = Field(default_factory=list)
    entropy: float | None = Field(default=None, ge=0, le=8)
    validate_: Literal["jwt", "github-checksum", "none"] = Field(default="none", alias="validate")
    mask: Literal["prefix", "header"] = "prefix"
    fallback: bool = False
    requires: list[str] = Field(default_factory=list)
    allow_regexes: list[str] = Field(default_factory=list)
    allow_paths: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of_regex(self) -> _RuleModel:
        if (self.regex is None) == (not self.regexes):
            raise ValueError("give exactly one of regex or regexes")
        return self

    @field_validator("keywords")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        if any(not k or k != k.lower() for k in v):
            raise ValueError("keywords must be non-empty lowercase strings")
        return v


class _RulesFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    allowlist: _AllowlistModel = Field(default_factory=_AllowlistModel)
    rules: list[_RuleModel] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One compiled rule."""

    id: str
    title: str
    severity: Severity
    keywords: tuple[bytes, ...]
    regexes: tuple[re.Pattern[bytes], ...]
    entropy: float | None = None
    validate: str = "none"
    mask: str = "prefix"
    #: a generic rule: it does not report a secret another rule already reported at the same place
    fallback: bool = False
    #: all of these must occur in the file (case-sensitive) for the rule to apply
    requires: tuple[bytes, ...] = ()
    allow_regexes: tuple[re.Pattern[bytes], ...] = ()
    allow_paths: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[SecretRule, ...]
    allow_regexes: tuple[re.Pattern[bytes], ...] = ()
    allow_paths: tuple[re.Pattern[str], ...] = ()

    def ids(self) -> list[str]:
        return [r.id for r in self.rules]


def _compile_bytes(pattern: str, where: str) -> re.Pattern[bytes]:
    try:
        return re.compile(pattern.encode())
    except re.error as exc:
        raise SecretsError(f"{where}: invalid regex {pattern!r}: {exc}") from exc


def _compile_str(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SecretsError(f"{where}: invalid regex {pattern!r}: {exc}") from exc


def parse_rules(text: str, source: str) -> RuleSet:
    """Validate and compile a rules document; errors name ``source`` and the offending rule."""
    raw = yamlsafe.load(text, source, error=SecretsError)
    try:
        doc = _RulesFileModel.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise SecretsError(f"{source}: {loc}: {first['msg']}") from exc
    seen: set[str] = set()
    rules: list[SecretRule] = []
    for r in doc.rules:
        where = f"{source}: rule {r.id}"
        if r.id in seen:
            raise SecretsError(f"{where}: duplicate rule id")
        seen.add(r.id)
        patterns = [r.regex] if r.regex is not None else r.regexes
        rules.append(
            SecretRule(
                id=r.id,
                title=r.title,
                severity=Severity[r.severity],
                keywords=tuple(k.encode() for k in r.keywords),
                regexes=tuple(_compile_bytes(p, where) for p in patterns),
                entropy=r.entropy,
                validate=r.validate_,
                mask=r.mask,
                fallback=r.fallback,
                requires=tuple(x.encode() for x in r.requires),
                allow_regexes=tuple(_compile_bytes(p, where) for p in r.allow_regexes),
                allow_paths=tuple(_compile_str(p, where) for p in r.allow_paths),
            )
        )
    # specific rules first, generic fallbacks last (they yield to specific matches at the same spot)
    rules.sort(key=lambda rule: rule.fallback)
    return RuleSet(
        rules=tuple(rules),
        allow_regexes=tuple(_compile_bytes(p, f"{source}: allowlist") for p in doc.allowlist.regexes),
        allow_paths=tuple(_compile_str(p, f"{source}: allowlist") for p in doc.allowlist.paths),
    )


@cache
def builtin_rules() -> RuleSet:
    """The rules shipped with ContainerGuard (compiled once per process)."""
    text = resources.files("containerguard.secrets").joinpath(BUILTIN_RULES).read_text(encoding="utf-8")
    return parse_rules(text, BUILTIN_RULES)


def load_rules(path: str | Path, *, extend_builtin: bool = True) -> RuleSet:
    """Load a user rules file; by default its rules and allowlist are added to the built-ins."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"{p}: cannot read secret rules: {exc}") from exc
    user = parse_rules(text, str(p))
    if not extend_builtin:
        return user
    base = builtin_rules()
    clash = set(base.ids()) & set(user.ids())
    if clash:
        raise SecretsError(f"{p}: rule ids already defined by the built-in rules: {', '.join(sorted(clash))}")
    return RuleSet(
        rules=base.rules + user.rules,
        allow_regexes=base.allow_regexes + user.allow_regexes,
        allow_paths=base.allow_paths + user.allow_paths,
    )
