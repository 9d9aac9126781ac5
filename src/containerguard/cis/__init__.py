"""CIS benchmarks of the host a container runs on (not of images or manifests).

docker  CIS Docker Benchmark v1.6 against the local Engine and host (CG-CIS-*): ``containerguard bench docker``

The checks' metadata (ids, severities, CIS references) lives in the misconfiguration check catalog
(:mod:`containerguard.misconfig.catalog`), shared with the Dockerfile and Kubernetes checks.
"""
