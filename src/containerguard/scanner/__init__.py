"""The image pipeline's one home and one entry point.

    target -> artifact (verified layer streams) -> walker -> analyzers -> applier -> Inventory (SBOM)
           -> detect (vulndb) -> Findings -> filters -> ScanResult

Callers (the CLI, ``config --image``, the server) use only the names exported here:

* :func:`scan_target` -- a whole scan (vulnerabilities, secrets, misconfiguration) with filters applied;
* :func:`build_inventory` -- the SBOM of a target (no matching);
* :func:`rescan` -- a stored inventory re-matched against a (newer) database, no image pull;
* :func:`load_inventory` / :func:`parse_inventory` -- read a stored inventory (native JSON, CycloneDX, SPDX).

Imports are lazy so that ``import containerguard.scanner`` stays cheap for the CLI's start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from containerguard.scanner.cache import LayerCache
    from containerguard.scanner.inventory import ProgressEvent, build_inventory, default_analyzers
    from containerguard.scanner.rescan import rescan
    from containerguard.scanner.sbom_input import load_inventory, parse_inventory
    from containerguard.scanner.scan import (
        DEFAULT_SCANNERS,
        SCANNERS,
        ScanResult,
        parse_scanners,
        scan_target,
    )

_EXPORTS = {
    "LayerCache": "containerguard.scanner.cache",
    "ProgressEvent": "containerguard.scanner.inventory",
    "build_inventory": "containerguard.scanner.inventory",
    "default_analyzers": "containerguard.scanner.inventory",
    "rescan": "containerguard.scanner.rescan",
    "load_inventory": "containerguard.scanner.sbom_input",
    "parse_inventory": "containerguard.scanner.sbom_input",
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
    "build_inventory",
    "default_analyzers",
    "load_inventory",
    "parse_inventory",
    "parse_scanners",
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
