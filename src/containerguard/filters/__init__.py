"""Finding filters (severity, unfixed, ignore file, OpenVEX) and the CI gate.

Imports are lazy (as in :mod:`containerguard.scanner`): the ignore-file and VEX models use pydantic, which a
run without an ignore file or VEX document (most `config` runs) should not pay for at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from containerguard.filters.filter import FilterResult, filter_findings, gate, is_unfixed
    from containerguard.filters.ignore import (
        IgnoreFile,
        IgnoreRule,
        load_ignore_file,
        parse_ignore_file,
        purl_matches,
    )
    from containerguard.filters.vex import VexDocument, VexStatement, VexSubject, load_vex, parse_vex

#: the ignore file read when none is named and it exists in the working directory
DEFAULT_IGNORE_FILE = ".containerguard-ignore.yaml"

_EXPORTS = {
    "FilterResult": "filter", "filter_findings": "filter", "gate": "filter", "is_unfixed": "filter",
    "IgnoreFile": "ignore", "IgnoreRule": "ignore", "load_ignore_file": "ignore", "parse_ignore_file": "ignore",
    "purl_matches": "ignore",
    "VexDocument": "vex", "VexStatement": "vex", "VexSubject": "vex", "load_vex": "vex", "parse_vex": "vex",
}

__all__ = [
    "DEFAULT_IGNORE_FILE",
    "FilterResult",
    "IgnoreFile",
    "IgnoreRule",
    "VexDocument",
    "VexStatement",
    "VexSubject",
    "filter_findings",
    "gate",
    "is_unfixed",
    "load_ignore_file",
    "load_vex",
    "parse_ignore_file",
    "parse_vex",
    "purl_matches",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'containerguard.filters' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"containerguard.filters.{module}"), name)
    globals()[name] = value
    return value
