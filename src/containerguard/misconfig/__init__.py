"""Misconfiguration and compliance checks; every result is a ``model.Finding`` (kind MISCONFIG or COMPLIANCE).

catalog       check metadata from data/checks.yaml (pydantic-validated): ids, severities, references
dockerfile    Dockerfile checks (CG-DF-*); dockerfile_parser + shell read the files
kubernetes    manifest checks (CG-K8S-*): Pod Security Standards, resources, images, RBAC
image         image config checks and ImageFileAnalyzer (CG-IMG-*)
docker_bench  CIS Docker Benchmark v1.6 against the local Engine and host (CG-CIS-*)
scan          file discovery and the entry points the `config` command uses
"""
