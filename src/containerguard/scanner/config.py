"""The `config` command's library call: Dockerfiles and Kubernetes manifests checked, findings redacted.

The checks live in :mod:`containerguard.misconfig`; this is where their findings leave the scanner, so
they are masked here like every other scanner result (a Dockerfile's ``ENV PASSWORD=...`` line quoted in
a finding prints masked in every report).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from containerguard.misconfig.scan import ConfigResult, Progress, scan_paths, scan_text
from containerguard.scanner.redact import redact_findings
from containerguard.scanner.skip import NO_SKIP, SkipPaths


def check_config(paths: Iterable[str | Path], *, text: str | None = None,
                 progress: Progress | None = None, skip: SkipPaths = NO_SKIP) -> ConfigResult:
    """Check every Dockerfile and Kubernetes manifest under ``paths`` and, when given, one more ``text``
    (stdin: a Dockerfile or YAML such as ``helm template`` output). Bad files are counted warnings.
    ``skip``: paths inside directory arguments left out (relative to each directory); ``progress`` is
    called after each file with (file, files done, files in all)."""
    res = scan_paths(paths, progress=progress, skip=skip.filter() if skip else None)
    if text is not None:
        extra = scan_text(text)
        res.findings += extra.findings
        res.warnings += extra.warnings
        res.dockerfiles += extra.dockerfiles
        res.manifests += extra.manifests
        res.objects += extra.objects
        res.skipped += extra.skipped
    res.findings = list(redact_findings(res.findings))
    return res
