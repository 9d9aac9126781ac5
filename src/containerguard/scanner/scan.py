"""`scan` as one library call: inventory -> vulnerabilities, secrets, misconfigurations -> policy.

    scan_target(target, scanners={"vuln", "secret", "misconfig"}, db=..., ...) -> ScanResult

Every scanner's results are ``model.Finding`` objects that go through the same filters (severity, ignore
file, VEX), the same reports and the same CI gate.

* Image targets (docker:, docker-archive:, oci:, oci-archive:, registry:, bare names): ONE walk over the
  layers runs the package analyzers plus :class:`~containerguard.analyzer.secrets.SecretAnalyzer` and
  :class:`~containerguard.misconfig.image.ImageFileAnalyzer`; world-writable directories are read from
  the merged file index of that same walk (an ``index_check`` of :func:`inventory.build_inventory`), so
  the layers are read once. Then the image-config analyzers run once over the config
  (:class:`~containerguard.misconfig.image.ImageConfigCheckAnalyzer`: root user, secret-looking Env,
  port 22, no healthcheck; :class:`~containerguard.analyzer.secrets.ImageConfigSecretAnalyzer`: Env
  entries and history commands). Every analyzer's findings land in the inventory and are merged here.
* ``dir:`` targets: secrets through the same walker; Dockerfiles and Kubernetes manifests in the tree
  through :func:`misconfig.scan.scan_paths` (what ``containerguard config`` runs), paths relative to the
  directory.
* ``sbom:`` targets: vulnerabilities only (there are no files to look at).

Duplicates: findings carry a ``subject`` (what they are about, set by their producer); where a secret rule
and a misconfiguration check report the same subject -- a private key found by the secret rules and by
the image-file check (CG-IMG-007), a secret-looking ``Env`` entry found by the secret rules and by
CG-IMG-002 -- it is reported once, as the secret finding (``extra["also_reported_as"]`` names the check).

Risk (the report order) for non-vulnerability findings uses the formula of docs/risk.md with no CVSS
and no EPSS: a secret counts as exploited (likelihood 0.95: anyone who can pull the image can read it),
a misconfiguration as a weakness with the 0.05 prior; both as "fix available".
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from containerguard.errors import UsageError
from containerguard.model import Finding, FindingKind, Inventory, OSInfo, Severity

if TYPE_CHECKING:
    from containerguard.filters.ignore import IgnoreFile, IgnoreRule
    from containerguard.filters.vex import VexDocument, VexSubject
    from containerguard.scanner.cache import LayerCache
    from containerguard.scanner.inventory import Progress
    from containerguard.scanner.skip import SkipPaths

#: the scanners, in help order; all three run by default
SCANNERS: tuple[str, ...] = ("vuln", "secret", "misconfig")
DEFAULT_SCANNERS: frozenset[str] = frozenset(SCANNERS)


def parse_scanners(text: str | Iterable[str]) -> frozenset[str]:
    """``"vuln,secret"`` (or an iterable of names) -> a validated set; UsageError for unknown or none."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = {p.strip().lower() for p in parts if p.strip()}
    unknown = sorted(names - set(SCANNERS))
    if unknown:
        raise UsageError(f"unknown scanner(s) {', '.join(unknown)} (expected some of {', '.join(SCANNERS)})")
    if not names:
        raise UsageError(f"no scanner selected (expected some of {', '.join(SCANNERS)})")
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan found. ``inventory`` is the artifact's inventory with its ``file_findings`` moved into
    ``findings`` (so reports list every result once, after the filters)."""

    inventory: Inventory
    #: kept after the filters, every kind
    findings: tuple[Finding, ...]
    #: database age, inventory, matching, secret and config warnings (one line each)
    warnings: tuple[str, ...] = ()
    #: suppressed by an ignore entry or a VEX statement (``suppressed_by`` says which)
    suppressed: tuple[Finding, ...] = ()
    #: ignore entries past their expiry date (they suppress nothing)
    expired_ignores: tuple[IgnoreRule, ...] = ()
    #: removed by --severity / --ignore-unfixed
    dropped: tuple[Finding, ...] = ()
    scanners: frozenset[str] = DEFAULT_SCANNERS
    #: how many inputs were not read (a manifest too large or a YAML bomb, an unparseable Dockerfile or
    #: lockfile; the warnings say which): a gate must not pass over them (``--skip-unreadable`` says it may)
    skipped: int = 0


def scan_target(
    target: str,
    *,
    scanners: Iterable[str] = DEFAULT_SCANNERS,
    db: Path | str | None = None,
    severities: Iterable[Severity] | None = None,
    ignore_unfixed: bool = False,
    ignore_file: IgnoreFile | str | Path | None = None,
    vex: Sequence[VexDocument | str | Path] | None = None,
    insecure: bool = False,
    platform: str = "linux/amd64",
    progress: Progress | None = None,
    cache: LayerCache | types.EllipsisType | None = ...,
    username: str | None = None,
    password: str | None = None,
    skip: SkipPaths | None = None,
) -> ScanResult:
    """Scan ``target`` with ``scanners`` and apply the policy filters. ``db`` is the vulnerability database
    file (default: the user's cache); it is opened only when ``vuln`` runs, before any layer is read.
    ``username``/``password`` authenticate to a registry (default: ``~/.docker/config.json``). ``skip``: paths
    inside the image or directory that no scanner reads (--skip-dirs/--skip-files, :mod:`.skip`)."""
    from containerguard import filters

    chosen = parse_scanners(scanners)
    # the inputs are read (and a bad one refused, with file:line) before any image is pulled or layer read
    if ignore_file is not None and not isinstance(ignore_file, filters.IgnoreFile):
        ignore_file = filters.load_ignore_file(ignore_file)
    if vex:
        vex = [v if isinstance(v, filters.VexDocument) else filters.load_vex(v) for v in vex]
    warnings: list[str] = []
    findings: list[Finding] = []
    if "vuln" in chosen:
        from containerguard.detect import Matcher
        from containerguard.vulndb import VulnDB

        with VulnDB(db) as handle:
            st = handle.status()
            if st.stale:
                warnings.append(f"the vulnerability database is {st.age_days:.0f} days old (built {st.built_at}); "
                                "run `containerguard db update`")
            inv = _inventory(target, chosen, insecure, platform, progress, cache, username, password, skip)
            result = Matcher(handle).match(inv)
        findings += result.findings
        warnings += inv.warnings
        warnings += result.warnings
    else:
        inv = _inventory(target, chosen, insecure, platform, progress, cache, username, password, skip)
        warnings += inv.warnings
    extra, extra_warnings, config_skipped = _other_findings(inv, target, chosen, skip)
    findings += extra
    warnings += extra_warnings
    # redaction, once, before anything leaves the scanner: no report ever sees an unmasked secret
    from containerguard.scanner.redact import redact_findings, redact_inventory, redacted_layers

    layers = redacted_layers(inv)
    findings = list(redact_findings(findings, layers))
    inv = redact_inventory(dataclasses.replace(inv, file_findings=()))
    filtered = filters.filter_findings(findings, severities=severities, ignore_unfixed=ignore_unfixed,
                                      ignore_file=ignore_file, vex=list(vex) if vex else None,
                                      subject=_vex_subject(target, inv) if vex else None)
    return ScanResult(inventory=inv, findings=filtered.kept, warnings=tuple(dict.fromkeys(warnings)),
                      suppressed=filtered.suppressed, expired_ignores=filtered.expired_ignores,
                      dropped=filtered.dropped, scanners=chosen,
                      skipped=config_skipped + sum(1 for w in dict.fromkeys(warnings) if _unreadable(w)))


def _unreadable(warning: str) -> bool:
    """An analyzer's warning that a whole file was not read (see ScanResult.skipped)."""
    from containerguard.analyzer.base import UNREADABLE

    return UNREADABLE in warning


def _vex_subject(target: str, inv: Inventory) -> VexSubject:
    """The scanned image as VEX products name it: the reference asked for and what the image says."""
    from containerguard.artifact import parse_target
    from containerguard.filters.vex import VexSubject

    refs: list[str] = []
    if not target.startswith("sbom:"):
        ref = parse_target(target)
        if ref.scheme in ("docker", "registry", "auto"):
            refs.append(ref.ref)
    return VexSubject.of(refs, inv.image)


# --------------------------------------------------------------------------- inventory


def _inventory(target: str, scanners: frozenset[str], insecure: bool, platform: str, progress: Progress | None,
               cache: LayerCache | types.EllipsisType | None, username: str | None = None,
               password: str | None = None, skip: SkipPaths | None = None) -> Inventory:
    if target.startswith("sbom:"):
        from containerguard.scanner.sbom_input import load_inventory

        loaded = load_inventory(Path(target[len("sbom:"):]))  # read whatever the scanners: a bad input is an error
        return loaded if "vuln" in scanners else Inventory(target=target, os=OSInfo(), packages=())
    from containerguard.analyzer.base import Analyzer, ConfigAnalyzer
    from containerguard.artifact import parse_target
    from containerguard.scanner.inventory import IndexCheck, _build_inventory, default_analyzers
    from containerguard.scanner.skip import NO_SKIP

    ref = parse_target(target)
    is_dir = ref.scheme == "dir"
    analyzers: list[Analyzer] = default_analyzers(lockfiles=is_dir) if "vuln" in scanners else []
    checks: list[IndexCheck] = []
    config_analyzers: list[ConfigAnalyzer] = []
    if "secret" in scanners:
        from containerguard.analyzer.secrets import ImageConfigSecretAnalyzer, SecretAnalyzer

        analyzers.append(SecretAnalyzer())
        config_analyzers.append(ImageConfigSecretAnalyzer())
    if "misconfig" in scanners and not is_dir:
        from containerguard.misconfig.image import (
            ImageConfigCheckAnalyzer,
            ImageFileAnalyzer,
            world_writable_dirs,
        )

        analyzers.append(ImageFileAnalyzer())
        checks.append(world_writable_dirs)
        config_analyzers.append(ImageConfigCheckAnalyzer())
    if not analyzers and is_dir:  # misconfig alone on a directory: no walk needed
        return Inventory(target=str(ref), os=OSInfo(), packages=())
    return _build_inventory(ref, analyzers=analyzers, cache=cache, progress=progress, insecure=insecure,
                           platform=platform, index_checks=checks, username=username, password=password,
                           config_analyzers=config_analyzers, skip=skip or NO_SKIP)


# --------------------------------------------------------------------------- secrets and misconfigurations


def _other_findings(inv: Inventory, target: str, scanners: frozenset[str],
                    skip: SkipPaths | None = None) -> tuple[list[Finding], list[str], int]:
    """Secret and misconfiguration findings for ``inv`` (deduplicated, target and risk set), warnings, and
    how many configuration files were skipped."""
    skipped = 0
    if target.startswith("sbom:"):
        return [], [], 0
    warnings: list[str] = []
    secrets: list[Finding] = []
    misconfigs: list[Finding] = []
    # every analyzer's findings (files and image config alike) are in inv.file_findings: merged here
    if "secret" in scanners:
        secrets = [f for f in inv.file_findings if f.kind is FindingKind.SECRET]
    if "misconfig" in scanners:
        root = _dir_root(target)
        if root is not None:
            misconfigs, warnings, skipped = _config_files(root, skip)
        else:
            from containerguard.misconfig.image import image_findings

            misconfigs = image_findings(inv)
    secrets, misconfigs = _merge(secrets, misconfigs)
    out = [_finish(f, inv.target) for f in (*secrets, *misconfigs)]
    return out, warnings, skipped


def _dir_root(target: str) -> Path | None:
    from containerguard.artifact import parse_target

    ref = parse_target(target)
    return Path(ref.ref) if ref.scheme == "dir" else None


def _config_files(root: Path, skip: SkipPaths | None = None) -> tuple[list[Finding], list[str], int]:
    """Dockerfiles and Kubernetes manifests under ``root`` (the `config` command's discovery and checks)."""
    from containerguard.misconfig.scan import scan_paths

    res = scan_paths([root], skip=skip.filter() if skip else None)
    base = str(root.resolve()) if root.is_absolute() else str(root)
    prefixes = tuple(dict.fromkeys([str(root).rstrip("/") + "/", base.rstrip("/") + "/"]))
    out = []
    for f in res.findings:
        p = f.path
        for pre in prefixes:
            if p.startswith(pre):
                p = p[len(pre):]
                break
        out.append(dataclasses.replace(f, path=p) if p != f.path else f)
    return out, list(res.warnings), res.skipped


def _merge(secrets: list[Finding], misconfigs: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """One finding per thing found: where a misconfiguration check and a secret rule report the same
    :attr:`~containerguard.model.Finding.subject` (a private key file, one ``Env`` entry), the secret
    finding stays and names the checks in ``extra["also_reported_as"]``; the check's finding goes."""
    secret_subjects = {f.subject for f in secrets if f.subject}
    dropped: dict[str, set[str]] = {}
    kept: list[Finding] = []
    for f in misconfigs:
        if f.subject and f.subject in secret_subjects:
            dropped.setdefault(f.subject, set()).add(f.id)
        else:
            kept.append(f)
    merged = [dataclasses.replace(s, extra={**s.extra, "also_reported_as": sorted(dropped[s.subject])})
              if s.subject in dropped else s for s in secrets]
    return merged, kept


def _finish(f: Finding, target: str) -> Finding:
    from containerguard.detect.risk import score

    risk = score(severity=f.severity, cvss=None, epss=None, kev=f.kind is FindingKind.SECRET, ransomware=False,
                 fixed=True)
    return dataclasses.replace(f, target=f.target or target, risk=risk)


__all__ = ["DEFAULT_SCANNERS", "SCANNERS", "ScanResult", "parse_scanners", "scan_target"]
