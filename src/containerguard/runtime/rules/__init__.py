"""The Falco-compatible rules engine: ``load_rules(paths) -> RuleSet``; ``RuleSet.evaluate(event) -> alerts``.

See docs/rules.md for the language, the default ruleset and the ``containerguard.*`` rule keys.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from containerguard.runtime.rules.alerts import alert_to_json, priority_name
from containerguard.runtime.rules.fields import FIELD_CATALOG, SUPPORTED_FIELDS, FieldSpec
from containerguard.runtime.rules.loader import ACTIONS, SOURCES, load_rules, reload_rules
from containerguard.runtime.rules.ruleset import CompiledRule, RuleSet


def default_rules_path() -> Path:
    """The default ruleset shipped with ContainerGuard (default_rules.yaml beside this module)."""
    return Path(str(resources.files(__name__).joinpath("default_rules.yaml")))


__all__ = [
    "ACTIONS",
    "FIELD_CATALOG",
    "SOURCES",
    "SUPPORTED_FIELDS",
    "CompiledRule",
    "FieldSpec",
    "RuleSet",
    "alert_to_json",
    "default_rules_path",
    "load_rules",
    "priority_name",
    "reload_rules",
]
