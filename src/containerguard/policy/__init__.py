"""Policy: finding filters (severity, unfixed, ignore file, OpenVEX) and the CI gate."""

from containerguard.policy.filter import FilterResult, filter_findings, gate, is_unfixed
from containerguard.policy.ignore import (
    DEFAULT_IGNORE_FILE,
    IgnoreFile,
    IgnoreRule,
    load_ignore_file,
    parse_ignore_file,
    purl_matches,
)
from containerguard.policy.vex import VexDocument, VexStatement, load_vex, parse_vex

__all__ = [
    "DEFAULT_IGNORE_FILE",
    "FilterResult",
    "IgnoreFile",
    "IgnoreRule",
    "VexDocument",
    "VexStatement",
    "filter_findings",
    "gate",
    "is_unfixed",
    "load_ignore_file",
    "load_vex",
    "parse_ignore_file",
    "parse_vex",
    "purl_matches",
]
