"""Misconfiguration and compliance checks; every result is a ``model.Finding`` (kind MISCONFIG or COMPLIANCE).

catalog       check metadata from data/checks.yaml (compiled to checks.json, checked on load): ids, severities, references
dockerfile    Dockerfile checks (CG-DF-*); dockerfile_parser + shell read the files
kubernetes    manifest checks (CG-K8S-*): Pod Security Standards, resources, images, RBAC
image         image config checks and ImageFileAnalyzer (CG-IMG-*)
(the CIS Docker host benchmark, CG-CIS-*, is its own package: containerguard.cis)
scan          file discovery and the entry points the `config` command uses
"""
