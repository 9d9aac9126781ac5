"""Behavioural baselines: learn each workload's normal behaviour, alert on deviation, protect; zero-drift.

:class:`BaselineDetector` is the agent's baseline stage (a detector beside the rules in
:class:`containerguard.runtime.evaluate.Evaluator`); :class:`BaselineStore` keeps the baselines in SQLite;
:mod:`~containerguard.runtime.baseline.yamlio` exports and imports them as validated YAML. docs/baselines.md
describes the entries, modes and commands.
"""

from __future__ import annotations

from containerguard.runtime.baseline.detector import (
           BASELINE_EVENT_TYPES,
           BaselineDetector,
           k8s_owner,
           name_pattern,
           workload_of,
)
from containerguard.runtime.baseline.profile import KINDS, MODES, Profile
from containerguard.runtime.baseline.store import BaselineStore
from containerguard.runtime.baseline.yamlio import export_yaml, import_yaml

__all__ = ["BASELINE_EVENT_TYPES", "KINDS", "MODES", "BaselineDetector", "BaselineStore", "Profile", "export_yaml",
           "import_yaml", "k8s_owner", "name_pattern", "workload_of"]
