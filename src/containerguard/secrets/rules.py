"""Secret rules: loaded from a YAML data file, validated with pydantic (:mod:`.rules_schema`), compiled once.

The built-in rules live in ``rules.yaml`` beside this module. A user rules file has the same shape and
may add rules or extend the allowlist. Every error names the file (and the rule id where known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from containerguard import yamlsafe
from containerguard.errors import SecretsError
from containerguard.model import Severity

BUILTIN_RULES = "rules.yaml"


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
    from containerguard.secrets.rules_schema import validated

    return _compile(validated(yamlsafe.load(text, source, error=SecretsError), source), source)


def _compile(doc: dict[str, Any], source: str) -> RuleSet:
    """A validated rules document (every field present) as a compiled :class:`RuleSet`."""
    seen: set[str] = set()
    rules: list[SecretRule] = []
    for r in doc["rules"]:
        where = f"{source}: rule {r['id']}"
        if r["id"] in seen:
            raise SecretsError(f"{where}: duplicate rule id")
        seen.add(r["id"])
        patterns = [r["regex"]] if r["regex"] is not None else r["regexes"]
        rules.append(
            SecretRule(
                id=r["id"],
                title=r["title"],
                severity=Severity[r["severity"]],
                keywords=tuple(k.encode() for k in r["keywords"]),
                regexes=tuple(_compile_bytes(p, where) for p in patterns),
                entropy=r["entropy"],
                validate=r["validate"],
                mask=r["mask"],
                fallback=r["fallback"],
                requires=tuple(x.encode() for x in r["requires"]),
                allow_regexes=tuple(_compile_bytes(p, where) for p in r["allow_regexes"]),
                allow_paths=tuple(_compile_str(p, where) for p in r["allow_paths"]),
            )
        )
    # specific rules first, generic fallbacks last (they yield to specific matches at the same spot)
    rules.sort(key=lambda rule: rule.fallback)
    allow = doc["allowlist"]
    return RuleSet(
        rules=tuple(rules),
        allow_regexes=tuple(_compile_bytes(p, f"{source}: allowlist") for p in allow["regexes"]),
        allow_paths=tuple(_compile_str(p, f"{source}: allowlist") for p in allow["paths"]),
    )


#: a rule's fields as written when the file leaves them out (the schema's defaults, rules_schema.py)
_RULE_DEFAULTS: dict[str, Any] = {"regex": None, "regexes": [], "entropy": None, "validate": "none", "mask": "prefix",
                                  "fallback": False, "requires": [], "allow_regexes": [], "allow_paths": []}


def _trusted(raw: Any) -> dict[str, Any]:
    """The built-in rules document with the schema's defaults filled in, without pydantic: the file ships
    with the tool and a unit test validates it against the schema (test_builtin_rules_match_the_schema)."""
    allow = {"regexes": [], "paths": [], **raw.get("allowlist", {})}
    return {"allowlist": allow, "rules": [{**_RULE_DEFAULTS, **r} for r in raw.get("rules", [])]}


@cache
def builtin_rules() -> RuleSet:
    """The rules shipped with ContainerGuard (compiled once per process)."""
    text = resources.files("containerguard.secrets").joinpath(BUILTIN_RULES).read_text(encoding="utf-8")
    return _compile(_trusted(yamlsafe.load(text, BUILTIN_RULES, error=SecretsError)), BUILTIN_RULES)


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
