"""The applier: merge per-layer records into the image's final filesystem view and its packages.

Later layers win per path; ``.wh.NAME`` deletes NAME (and everything below it) from lower layers;
``.wh..wh..opq`` hides everything a lower layer had below that directory; a non-directory replacing a
directory hides the lower subtree. Each package is attributed to the layer that introduced it: the
earliest layer from which the same package (by key) at the same path persists to the top, so a dpkg
status file rewritten by every ``apt-get install`` layer still credits each package to its own layer.

Language packages read from a manifest the OS package manager installed (dpkg ``info/*.list``, apk ``R:``
lines) are dropped: the OS package reports that software, with the distribution's fixes.

Secrets are the exception to "the merged view only": a secret a lower layer holds stays extractable from
that layer's blob (``docker save`` + untar) after a later layer deletes or overwrites it, so SECRET findings
of shadowed paths are reported too, marked ``extra["removed_in_layer"]`` (see :func:`removed_secrets`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from containerguard.analyzer.base import AnalysisResult
from containerguard.artifact.tarwalk import DIR, FILE, HARDLINK, SYMLINK
from containerguard.model import Finding, FindingKind, Layer, OSInfo, Package
from containerguard.scanner.walker import LayerRecord

MAX_LINK_HOPS = 40


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One path of the merged file system: the layer that last wrote it, its kind, mode, size and link target."""
    layer: int
    kind: str
    mode: int
    size: int
    link: str


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A wanted link ``path`` (in layer ``layer``) whose content is regular file ``source`` of ``source_layer``."""

    path: str
    layer: int
    source: str
    source_layer: int


@dataclass(slots=True)
class Merged:
    """The layers merged: the final file index, packages with their layers, the OS, findings, warnings and the links to analyse."""
    files: dict[str, FileInfo]
    packages: list[Package]
    os: OSInfo
    findings: list[Finding]
    warnings: list[str]
    links: list[LinkRequest] = field(default_factory=list)
    os_priority: int = -(1 << 30)


def _doomed(key: str, dels: set[str], subtree: set[str]) -> bool:
    if key in dels or "" in subtree:  # an opaque whiteout at the root hides every lower path (OCI spec)
        return True
    i = key.find("/")
    while i != -1:
        prefix = key[:i]
        if prefix in dels or prefix in subtree:
            return True
        i = key.find("/", i + 1)
    return False


def merge_files(records: Sequence[LayerRecord]) -> tuple[dict[str, FileInfo], dict[str, list[int]]]:
    """The merged file index, and for every analysed path the layers at which it was deleted."""
    merged: dict[str, FileInfo] = {}
    watched = {p for r in records for p in r.results} | {p for r in records for p in r.links}
    deleted: dict[str, list[int]] = {}
    parents: set[str] = set()  # every directory some lower path lies in, whether or not the tar named it
    for i, rec in enumerate(records):
        dels = set(rec.whiteouts)
        subtree = set(rec.opaques)
        for p, (kind, _m, _s, _l) in rec.files.items():
            if kind != DIR:
                old = merged.get(p)
                # a file or link replacing a directory hides what lower layers held below it, also when
                # the lower layer wrote ``a/b/file`` without an ``a/b/`` entry of its own
                if (old is not None and old.kind == DIR) or (i and p in parents):
                    subtree.add(p)
        if dels or subtree:
            doomed = [k for k in merged if _doomed(k, dels, subtree)]
            for k in doomed:
                del merged[k]
                if k in watched:
                    deleted.setdefault(k, []).append(i)
        for p, (kind, mode, size, link) in rec.files.items():
            merged[p] = FileInfo(i, kind, mode, size, link)
        if i + 1 < len(records):
            _add_parents(parents, rec.files)
    return merged, deleted


def _add_parents(parents: set[str], paths: Iterable[str]) -> None:
    """Add the directories ``paths`` lie in (each walked up only until a known one)."""
    for p in paths:
        j = p.rfind("/")
        while j > 0:
            d = p[:j]
            if d in parents:
                break
            parents.add(d)
            j = d.rfind("/")


def resolve(files: dict[str, FileInfo], path: str) -> str | None:
    """Resolve ``path`` through symlinks, never leaving the image root (``..`` at the root stays there)."""
    resolved: list[str] = []
    queue = deque(path.split("/"))
    hops = 0
    while queue:
        p = queue.popleft()
        if p in ("", "."):
            continue
        if p == "..":
            if resolved:
                resolved.pop()
            continue
        cand = "/".join([*resolved, p])
        info = files.get(cand)
        if info is not None and info.kind == SYMLINK:
            hops += 1
            if hops > MAX_LINK_HOPS:
                return None
            if info.link.startswith("/"):
                resolved = []
            queue.extendleft(reversed(info.link.split("/")))
        else:
            resolved.append(p)
    return "/".join(resolved)


def _introduced(path: str, top: int, key: tuple[str, ...], records: Sequence[LayerRecord],
                deleted: dict[str, list[int]], keys_cache: dict[tuple[str, int], set[tuple[str, ...]]]) -> int:
    dels = deleted.get(path, ())
    cur = top
    for j in range(top - 1, -1, -1):
        rec = records[j]
        if path not in rec.files:
            continue
        if any(j < d <= cur for d in dels):
            break
        ck = (path, j)
        ks = keys_cache.get(ck)
        if ks is None:
            r = rec.results.get(path)
            ks = {pkg_key(p) for p in r.packages} if r is not None else set()
            keys_cache[ck] = ks
        if key not in ks:
            break
        cur = j
    return cur


def pkg_key(p: Package) -> tuple[str, ...]:
    """(type, name, version, arch): the identity used to tell which layer added a package."""
    return (p.type, p.name, p.version, p.arch)


def attribute(result: AnalysisResult, path: str, top: int, layers: Sequence[Layer] | None,
              records: Sequence[LayerRecord], deleted: dict[str, list[int]],
              keys_cache: dict[tuple[str, int], set[tuple[str, ...]]], floor: int = -1) -> list[Package]:
    """The packages of ``result`` (found at ``path`` in layer ``top``) with their locations and the layer that added them."""
    out = []
    for p in result.packages:
        changes: dict[str, object] = {}
        if not p.locations:
            changes["locations"] = (path,)
        if layers is not None:
            idx = _introduced(path, top, pkg_key(p), records, deleted, keys_cache)
            changes["layer"] = layers[max(idx, floor)]
        out.append(dataclasses.replace(p, **changes) if changes else p)  # type: ignore[arg-type]
    return out


#: package types read from manifests an OS package can install (binaries, Go and Rust, are kept: their embedded
#: module lists are not what the OS package's version describes)
_LANGUAGE_MANIFEST_TYPES = frozenset({"pypi", "npm", "gem", "maven", "composer"})


def _os_owned(p: Package, owned: set[str]) -> bool:
    """A language package read from a file the OS package manager installed: the same software as that OS
    package, which carries its advisories (with the distribution's backported fixes). Trivy and Grype drop
    these too; reporting both gave each vulnerability twice, the language one with a wrong fixed version."""
    return p.type in _LANGUAGE_MANIFEST_TYPES and bool(p.locations) and p.locations[0] in owned


def apply(records: Sequence[LayerRecord], layers: Sequence[Layer] | None) -> Merged:
    """Merge layer records (oldest first). ``layers`` None for ``dir:`` targets (no layer attribution)."""
    files, deleted = merge_files(records)
    packages: list[Package] = []
    findings: list[Finding] = []
    warnings: list[str] = []
    os_info: OSInfo | None = None
    os_prio = -(1 << 30)
    keys_cache: dict[tuple[str, int], set[tuple[str, ...]]] = {}
    for rec in records:
        warnings.extend(rec.warnings)
    links: list[LinkRequest] = []
    owned: set[str] = set()
    for path, info in files.items():
        rec = records[info.layer]
        if info.kind == FILE:
            r = rec.results.get(path)
            if r is None:
                continue
            owned.update(r.system_files)
            packages.extend(attribute(r, path, info.layer, layers, records, deleted, keys_cache))
            for f in r.findings:
                findings.append(f if f.layer is not None or layers is None
                                else dataclasses.replace(f, layer=layers[info.layer]))
            warnings.extend(r.warnings)
            if r.os is not None and r.os_priority > os_prio:
                os_info, os_prio = r.os, r.os_priority
        elif info.kind in (SYMLINK, HARDLINK) and path in rec.links:
            req = link_request(files, path, info)
            if req is not None:
                links.append(req)
    if owned:
        packages = [p for p in packages if not _os_owned(p, owned)]
    if layers is not None:
        findings.extend(removed_secrets(records, files, deleted, layers, findings))
    return Merged(files, packages, os_info or OSInfo(), findings, warnings, links, os_prio)


def _secret_key(f: Finding, path: str) -> tuple[object, ...]:
    # findings keep only the masked value: the same rule, line, offset and mask at the same path counts
    # as the same secret (a chmod or copy-up in a later layer rewrites the file, not the secret)
    return (f.id, f.path or path, f.line, f.match, f.extra.get("offset"))


def _removal(path: str, layer: int, records: Sequence[LayerRecord], deleted: dict[str, list[int]]) -> tuple[int, str]:
    """The first layer above ``layer`` that deleted (whiteout, opaque dir, replaced parent) or overwrote ``path``."""
    dels = [d for d in deleted.get(path, ()) if d > layer]
    first_del = min(dels) if dels else len(records)
    for j in range(layer + 1, first_del):
        if path in records[j].files:
            return j, "overwritten"
    return first_del, "deleted"


def removed_secrets(records: Sequence[LayerRecord], files: dict[str, FileInfo], deleted: dict[str, list[int]],
                    layers: Sequence[Layer], surviving: Sequence[Finding]) -> list[Finding]:
    """SECRET findings of file versions that a later layer deleted or overwrote (still in the lower blob).

    One finding per secret: a secret that also survives to the merged view is reported there only, and
    a secret in several shadowed versions of a path is reported at the lowest layer holding it."""
    seen = {_secret_key(f, f.path) for f in surviving if f.kind is FindingKind.SECRET}
    out: list[Finding] = []
    for i, rec in enumerate(records):
        for path, r in rec.results.items():
            if not r.findings:
                continue
            top = files.get(path)
            if top is not None and top.layer == i:
                continue
            removal: tuple[int, str] | None = None
            for f in r.findings:
                if f.kind is not FindingKind.SECRET:
                    continue
                key = _secret_key(f, path)
                if key in seen:
                    continue
                seen.add(key)
                if removal is None:
                    removal = _removal(path, i, records, deleted)
                j, how = removal
                by = layers[min(j, len(layers) - 1)]
                note = f"{how} in a later layer ({j}) but still extractable from layer {i}"
                out.append(dataclasses.replace(
                    f, layer=f.layer if f.layer is not None else layers[i],
                    description=f"{f.description} ({note})" if f.description else note,
                    extra={**f.extra, "removed_in_layer": {"index": by.index, "digest": by.digest,
                                                           "created_by": by.created_by, "how": how}}))
    return out


def link_request(files: dict[str, FileInfo], path: str, info: FileInfo) -> LinkRequest | None:
    """The request to analyse a link's target file at the link's path, or None when the link leads nowhere."""
    if info.kind == HARDLINK:
        return LinkRequest(path, info.layer, info.link, info.layer)
    target = resolve(files, path)
    if target is None:
        return None
    t = files.get(target)
    if t is None:
        return None
    if t.kind == HARDLINK:
        return LinkRequest(path, info.layer, t.link, t.layer)
    if t.kind != FILE:
        return None
    return LinkRequest(path, info.layer, target, t.layer)


def add_link_results(merged: Merged, results: Sequence[tuple[LinkRequest, AnalysisResult]],
                     layers: Sequence[Layer] | None) -> None:
    """Fold the analysis of link targets (read as the link's path) into the merged view."""
    for req, r in results:
        top = max(req.layer, req.source_layer)
        for p in r.packages:
            ch: dict[str, object] = {}
            if not p.locations:
                ch["locations"] = (req.path,)
            if layers is not None:
                ch["layer"] = layers[top]
            merged.packages.append(dataclasses.replace(p, **ch) if ch else p)  # type: ignore[arg-type]
        merged.findings.extend(r.findings)
        merged.warnings.extend(r.warnings)
        if r.os is not None and (not merged.os.known or r.os_priority > merged.os_priority):
            merged.os, merged.os_priority = r.os, r.os_priority
