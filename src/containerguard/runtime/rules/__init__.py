"""The Falco-compatible rules engine: ``load_rules(paths) -> RuleSet``; ``RuleSet.evaluate(event) -> alerts``.

See docs/rules.md for the language, the default ruleset and the ``containerguard.*`` rule keys.
"""

from __future__ import annotations

from importlib import resources
from importlib.metadata import entry_points
from os import PathLike
from pathlib import Path

from containerguard.errors import RuleError
from containerguard.runtime.rules.alerts import alert_to_json, priority_name
from containerguard.runtime.rules.fields import FIELD_CATALOG, SUPPORTED_FIELDS, FieldSpec
from containerguard.runtime.rules.loader import load_rules, reload_rules
from containerguard.runtime.rules.ruleset import CompiledRule, RuleSet
from containerguard.runtime.rules.vocabulary import ACTIONS, CONTAINER_ACTIONS, RESPONSE_ACTIONS, SOURCES


def default_rules_path() -> Path:
    """The default ruleset shipped with ContainerGuard (default_rules.yaml beside this module)."""
    return Path(str(resources.files(__name__).joinpath("default_rules.yaml")))


def cloud_rules_path() -> Path:
    """The default ruleset for cloud audit logs (cloud_rules.yaml beside this module: AWS, GCP, Azure)."""
    return Path(str(resources.files(__name__).joinpath("cloud_rules.yaml")))


def default_rules_paths() -> list[Path]:
    """Every built-in rules file: containers and the Kubernetes API, then cloud control planes."""
    return [default_rules_path(), cloud_rules_path()]


def plugin_rules_paths() -> list[Path]:
    """Rules files third-party packages register under the ``containerguard.rules`` entry-point group.

    An entry point names a path (str or PathLike), a list of paths, or a callable returning either. Plugins
    are taken in entry-point name order; a plugin that fails to load is a RuleError naming it.
    """
    out: list[Path] = []
    for ep in sorted(entry_points(group="containerguard.rules"), key=lambda e: e.name):
        try:
            obj = ep.load()
            value = obj() if callable(obj) else obj
            items = [value] if isinstance(value, str | PathLike) else list(value)
            out.extend(Path(x) for x in items)
        except Exception as exc:  # a third party's bug must not become our traceback
            raise RuleError(f"rules plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from None
    return out


def builtin_and_plugin_rules() -> list[Path]:
    """What to load when the user names no rules file: the default ruleset, then the plugins' files."""
    return [*default_rules_paths(), *plugin_rules_paths()]


__all__ = [
    "ACTIONS",
    "CONTAINER_ACTIONS",
    "FIELD_CATALOG",
    "RESPONSE_ACTIONS",
    "SOURCES",
    "SUPPORTED_FIELDS",
    "CompiledRule",
    "FieldSpec",
    "RuleSet",
    "alert_to_json",
    "builtin_and_plugin_rules",
    "cloud_rules_path",
    "default_rules_path",
    "default_rules_paths",
    "load_rules",
    "plugin_rules_paths",
    "priority_name",
    "reload_rules",
]
