"""Secret detection in files, directory trees and image layers.

Library entry points: :func:`scan_bytes`, :func:`scan_directory` and :class:`SecretScanner`; the image
walker runs them through :class:`containerguard.analyzer.secrets.SecretAnalyzer` (the analyzer sits a
layer above, so this package never imports the analyzer contract). Rules are data (``rules.yaml``), validated at load.
"""

from containerguard.secrets.rules import RuleSet, SecretRule, builtin_rules, load_rules
from containerguard.secrets.scanner import (
    DEFAULT_MAX_SIZE,
    AllowEntry,
    DirectoryScan,
    SecretScanner,
    is_candidate_path,
    mask_secret,
    redact,
    scan_bytes,
    scan_directory,
    scan_image_config,
    shannon_entropy,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "AllowEntry",
    "DirectoryScan",
    "RuleSet",
    "SecretRule",
    "SecretScanner",
    "builtin_rules",
    "is_candidate_path",
    "load_rules",
    "mask_secret",
    "redact",
    "scan_bytes",
    "scan_directory",
    "scan_image_config",
    "shannon_entropy",
]
