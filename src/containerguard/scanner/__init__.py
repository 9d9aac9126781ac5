"""The image pipeline's one home and one entry point.

    target -> artifact (verified layer streams) -> walker (walker.py: a callback per file)
           -> analyzers (analyzer/: packages, OS, secrets, image files; each declares the paths it needs
              and a version in the layer cache key, cache.py) -> applier (applier.py: layers merged,
              whiteouts, links) -> finalize.py -> Inventory (SBOM, inventory.py)
           -> detect (vulndb) -> Findings; image-config secrets and checks -> merged on their subject
              (scan.py) -> redaction (redact.py, once) -> filters -> ScanResult

Callers (the CLI, ``config --image``, the server) use only the names exported here:

* :func:`scan_target` -- a whole scan (vulnerabilities, secrets, misconfiguration) with filters applied;
* :func:`build_inventory` -- the SBOM of a target (no matching);
* :func:`rescan` -- a stored inventory re-matched against a (newer) database, no image pull;
* :func:`load_inventory` / :func:`parse_inventory` -- read a stored inventory (native JSON, CycloneDX, SPDX);
* :class:`SkipPaths` -- ``--skip-dirs``/``--skip-files`` patterns, validated, for the calls above;
* :func:`check_config` -- Dockerfiles and Kubernetes manifests (the `config` command);
* :func:`redact_inventory` / :func:`redact_findings` -- the masking every result above already went
  through, for data that arrives from elsewhere (an uploaded report).

Everything these return has had its secrets masked: reports render it as given.

Imports are lazy so that ``import containerguard.scanner`` stays cheap for the CLI's start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from containerguard.scanner.cache import LayerCache
    from containerguard.scanner.config import check_config
    from containerguard.scanner.inventory import ProgressEvent, build_inventory, default_analyzers
    from containerguard.scanner.redact import redact_findings, redact_inventory
    from containerguard.scanner.rescan import rescan
    from containerguard.scanner.sbom_input import load_inventory, parse_inventory
    from containerguard.scanner.scan import (
        DEFAULT_SCANNERS,
        SCANNERS,
        ScanResult,
        parse_scanners,
        scan_target,
    )
    from containerguard.scanner.skip import SkipPaths

_EXPORTS = {
    "LayerCache": "containerguard.scanner.cache",
    "check_config": "containerguard.scanner.config",
    "redact_findings": "containerguard.scanner.redact",
    "redact_inventory": "containerguard.scanner.redact",
    "ProgressEvent": "containerguard.scanner.inventory",
    "build_inventory": "containerguard.scanner.inventory",
    "default_analyzers": "containerguard.scanner.inventory",
    "rescan": "containerguard.scanner.rescan",
    "load_inventory": "containerguard.scanner.sbom_input",
    "parse_inventory": "containerguard.scanner.sbom_input",
    "SkipPaths": "containerguard.scanner.skip",
    "DEFAULT_SCANNERS": "containerguard.scanner.scan",
    "SCANNERS": "containerguard.scanner.scan",
    "ScanResult": "containerguard.scanner.scan",
    "parse_scanners": "containerguard.scanner.scan",
    "scan_target": "containerguard.scanner.scan",
}

__all__ = [
    "DEFAULT_SCANNERS",
    "SCANNERS",
    "LayerCache",
    "ProgressEvent",
    "ScanResult",
    "SkipPaths",
    "build_inventory",
    "check_config",
    "default_analyzers",
    "load_inventory",
    "parse_inventory",
    "parse_scanners",
    "redact_findings",
    "redact_inventory",
    "rescan",
    "scan_target",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'containerguard.scanner' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
