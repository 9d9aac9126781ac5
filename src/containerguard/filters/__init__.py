"""Finding filters (severity, unfixed, ignore file, OpenVEX) and the CI gate."""

from containerguard.filters.filter import FilterResult, filter_findings, gate, is_unfixed
from containerguard.filters.ignore import (
    DEFAULT_IGNORE_FILE,
    IgnoreFile,
    IgnoreRule,
    load_ignore_file,
    parse_ignore_file,
    purl_matches,
)
from containerguard.filters.vex import VexDocument, VexStatement, VexSubject, load_vex, parse_vex

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
