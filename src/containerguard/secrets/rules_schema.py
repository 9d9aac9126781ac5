"""The pydantic schema of a secret rules file (an edge: user rules files may come from anywhere).

Imported only to validate a rules file: the built-in rules are validated by the unit tests and loaded
without it (:func:`containerguard.secrets.rules.builtin_rules`), so pydantic stays off the start-up path
of a scan or `config` run that has to mask a keyword-bearing text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from containerguard.errors import SecretsError


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


def validated(raw: Any, source: str) -> dict[str, Any]:
    """The rules document ``raw`` checked against the schema, as plain data with every default filled in
    (``validate``, not ``validate_``); SecretsError names ``source`` and the first bad field."""
    try:
        doc = _RulesFileModel.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise SecretsError(f"{source}: {loc}: {first['msg']}") from exc
    return doc.model_dump(by_alias=True)
