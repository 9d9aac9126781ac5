"""Policies as code, enforced at build, deploy and runtime.

    policy files (YAML) -> loader (schema, CEL compile; file:line errors) -> PolicySet
    input document (inputs: scan result, Kubernetes object, Docker API body, alert) -> PolicySet.evaluate
    -> Decision (violations with their action) -> enforcement: CI exit code, admission webhook, Docker
    authorization plugin, runtime responses

The input document is versioned and documented in docs/policies.md.
"""

from __future__ import annotations

from containerguard.policy.engine import PolicySet
from containerguard.policy.inputs import DOC_VERSION, complete
from containerguard.policy.loader import load_policies
from containerguard.policy.model import Action, Decision, OnError, Policy, Stage, Violation

__all__ = ["DOC_VERSION", "Action", "Decision", "OnError", "Policy", "PolicySet", "Stage", "Violation",
           "complete", "load_policies"]
