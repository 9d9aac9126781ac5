"""Build an image's inventory (its SBOM): open the target, walk each layer once, merge, attribute.

    target -> artifact.open_target -> per layer: cache hit, or walker (tar stream -> analyzers)
           -> applier (whiteouts, later layers win, link targets, layer attribution) -> model.Inventory

The layer cache is keyed by the layer's diff_id (its uncompressed digest, so every source of the same
image shares entries) plus the sorted (type, version) list of the analyzers: a warm scan reads no layer.
"""

from __future__ import annotations

import contextlib
import datetime
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from containerguard.analyzer.base import AnalysisResult, Analyzer, ConfigAnalyzer
from containerguard.artifact import open_target, parse_target
from containerguard.artifact.base import Artifact
from containerguard.artifact.stream import ReaderBase, as_io
from containerguard.errors import CacheError, LayerRefused
from containerguard.model import Finding, ImageRef, Inventory, Layer, Package
from containerguard.scanner.applier import FileInfo, LinkRequest, add_link_results, apply
from containerguard.scanner.cache import LayerCache, from_jsonable, layer_key, to_jsonable
from containerguard.scanner.skip import NO_SKIP, SkipPaths
from containerguard.scanner.walker import LayerRecord, run_analyzers, walk_dir_layer, walk_tar_layer

ENTRY_POINT_GROUP = "containerguard.analyzers"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """``phase``: open | export (bytes exported from the Docker daemon) | layer-start | read | layer-done |
    layer-cached | done."""

    phase: str
    layer: int = 0
    layers: int = 0
    bytes: int = 0
    total: int = 0


Progress = Callable[[ProgressEvent], None]
#: a check over the merged file index (path -> applier.FileInfo, directories included) and the layers
#: (None for ``dir:``); its findings join ``Inventory.file_findings``. The index comes from the same walk
#: (or the layer cache), so e.g. world-writable directories need no second pass over the layers.
IndexCheck = Callable[[Mapping[str, FileInfo], Sequence[Layer] | None], Sequence[Finding]]


def default_analyzers(*, lockfiles: bool = False) -> list[Analyzer]:
    """The built-ins (``analyzer.plugins.builtin_analyzers``) plus ``containerguard.analyzers`` plug-ins."""
    from containerguard.analyzer.plugins import builtin_analyzers, plugin_analyzers

    return [*builtin_analyzers(lockfiles=lockfiles), *plugin_analyzers()]


def analyzer_ids(analyzers: Sequence[Analyzer]) -> list[tuple[str, int]]:
    """Sorted (type, version) of ``analyzers``: part of every layer cache key."""
    return sorted((a.type, int(a.version)) for a in analyzers)


# --------------------------------------------------------------------------- record <-> JSON


def encode_record(rec: LayerRecord) -> dict[str, Any]:
    """A layer's walk record as JSON-able data for the cache."""
    return {
        "files": [[p, k, m, s, link] for p, (k, m, s, link) in rec.files.items()],
        "whiteouts": rec.whiteouts,
        "opaques": rec.opaques,
        "results": {p: to_jsonable(r) for p, r in rec.results.items()},
        "links": rec.links,
        "link_results": {p: [src, None if r is None else to_jsonable(r)] for p, (src, r) in rec.link_results.items()},
        "warnings": rec.warnings,
    }


def decode_record(obj: Any) -> LayerRecord:
    """The inverse of :func:`encode_record`."""
    return LayerRecord(
        files={f[0]: (f[1], f[2], f[3], f[4]) for f in obj["files"]},
        whiteouts=list(obj["whiteouts"]),
        opaques=list(obj["opaques"]),
        results={p: from_jsonable(AnalysisResult, r) for p, r in obj["results"].items()},
        links=list(obj["links"]),
        link_results={p: (str(src), None if r is None else from_jsonable(AnalysisResult, r))
                      for p, (src, r) in obj.get("link_results", {}).items()},
        warnings=list(obj["warnings"]),
    )


class _ProgressReader(ReaderBase):
    def __init__(self, raw: IO[bytes], cb: Progress, layer: int, layers: int) -> None:
        self._raw = raw
        self._cb = cb
        self._layer = layer
        self._layers = layers
        self.count = 0
        self._next = 4 << 20

    def _read(self, n: int) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        if self.count >= self._next:
            self._next = self.count + (4 << 20)
            self._cb(ProgressEvent("read", self._layer, self._layers, self.count))
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


# --------------------------------------------------------------------------- the scan


def _cache_put(cache: LayerCache, key: str, value: Any) -> None:
    """A cache that cannot be written (full disk, read-only) costs speed, not the scan."""
    with contextlib.suppress(CacheError):
        cache.put(key, value)


def _cache_get(cache: LayerCache | None, key: str | None) -> Any | None:
    if cache is None or key is None:
        return None
    return cache.get(key)


def _layer_record(art: Artifact, layer: Layer, analyzers: Sequence[Analyzer], cache: LayerCache | None,
                  ids: list[tuple[str, int]], progress: Progress | None, n: int,
                  skip: SkipPaths = NO_SKIP) -> LayerRecord:
    ident = layer.diff_id or layer.digest
    key = layer_key(ident, ids, skip=skip.key) if ident and cache is not None else None
    hit = _cache_get(cache, key)
    if hit is not None:
        try:
            rec = decode_record(hit)
        except (KeyError, TypeError, ValueError, IndexError):
            rec = None
        if rec is not None:
            if progress:
                progress(ProgressEvent("layer-cached", layer.index, n))
            return rec
    if progress:
        progress(ProgressEvent("layer-start", layer.index, n, 0, layer.size))
    what = f"layer {layer.index} ({ident[:19]})"
    tmpdir = cache.tmp_dir if cache is not None else None
    stream: IO[bytes] = art.open_layer(layer)
    if progress:
        stream = as_io(_ProgressReader(stream, progress, layer.index, n))
    try:
        with stream:
            rec = walk_tar_layer(stream, analyzers, tmpdir=tmpdir, what=what, skip=skip.file if skip else None)
    except LayerRefused as exc:  # the other layers' results are kept; this one is named in the report
        from containerguard.analyzer.base import UNREADABLE

        refused = LayerRecord()
        refused.warnings = [f"{exc} ({UNREADABLE})"]
        return refused
    if cache is not None and key is not None:
        _cache_put(cache, key, encode_record(rec))
    if progress:
        progress(ProgressEvent("layer-done", layer.index, n))
    return rec


def _link_results(art: Artifact, layers: Sequence[Layer], records: Sequence[LayerRecord],
                  requests: Sequence[LinkRequest], analyzers: Sequence[Analyzer], cache: LayerCache | None,
                  ids: list[tuple[str, int]], dir_root: Path | None,
                  skip: SkipPaths = NO_SKIP) -> list[tuple[LinkRequest, AnalysisResult]]:
    """Analyse each wanted link's target file as if it were at the link's path (second, targeted pass).
    A link the walker already analysed with the same target in the same layer is taken from its record.
    A link whose target is a skipped path (--skip-dirs/--skip-files) is not followed: that file is not read."""
    out: list[tuple[LinkRequest, AnalysisResult]] = []
    warnings: list[str] = []
    by_layer: dict[int, list[LinkRequest]] = {}
    for req in requests:
        if skip and (skip.file(req.source) or skip.file(req.path)):
            continue
        by_layer.setdefault(req.source_layer, []).append(req)
    for li, reqs in sorted(by_layer.items()):
        layer = layers[li]
        ident = layer.diff_id or layer.digest
        todo: list[tuple[LinkRequest, str | None]] = []
        pre = records[li].link_results
        for req in reqs:
            done = pre.get(req.path)
            if done is not None and req.layer == li and done[0] == req.source:
                if done[1] is not None:
                    out.append((req, done[1]))
                continue
            key = (layer_key(ident, ids, f"link:{req.path}->{req.source}", skip.key)
                   if ident and cache is not None and dir_root is None else None)
            hit = _cache_get(cache, key)
            if hit is not None:
                if hit.get("result") is not None:
                    out.append((req, from_jsonable(AnalysisResult, hit["result"])))
                continue
            todo.append((req, key))
        if not todo:
            continue
        files = _open_link_targets(art, layer, li, {req.source for req, _ in todo}, cache, dir_root,
                                   max((a.max_size for a in analyzers), default=0))
        try:
            _analyse_links(todo, files, analyzers, cache, out, warnings)
        finally:
            for f in files.values():
                f.close()
    if warnings and out:
        out[0][1].warnings.extend(warnings)
    return out



def _open_link_targets(art: Artifact, layer: Layer, li: int, wanted: set[str], cache: LayerCache | None,
                       dir_root: Path | None, max_size: int) -> dict[str, IO[bytes]]:
    """The link target files ``wanted`` from layer ``li`` (or the directory root), opened for reading; a
    layer's file over ``max_size`` (every analyzer's cap) is not copied out."""
    from containerguard.scanner.walker import extract_files

    if dir_root is not None:
        return {w: open(dir_root / w, "rb") for w in wanted}
    with art.open_layer(layer) as stream:
        return extract_files(stream, wanted, cache.tmp_dir if cache is not None else None, f"layer {li}", max_size)


def _analyse_links(todo: Sequence[tuple[LinkRequest, str | None]], files: dict[str, IO[bytes]],
                   analyzers: Sequence[Analyzer], cache: LayerCache | None,
                   out: list[tuple[LinkRequest, AnalysisResult]], warnings: list[str]) -> None:
    """Run the analyzers over each link's target as if it were at the link's path; cache each result."""
    for req, key in todo:
        fh = files.get(req.source)
        r = None
        if fh is not None:
            fh.seek(0, 2)
            size = fh.tell()
            users = [a for a in analyzers if a.follows_links and a.required(req.path, 0o100644)]
            r = run_analyzers(users, req.path, 0o100644, size, fh, warnings.append)
        if r is not None:
            out.append((req, r))
        if key is not None and cache is not None:
            _cache_put(cache, key, {"result": to_jsonable(r) if r is not None else None})


def build_inventory(target: str | ImageRef, *, analyzers: Sequence[Analyzer] | None = None,
                    cache: LayerCache | types.EllipsisType | None = ..., progress: Progress | None = None,
                    insecure: bool = False, platform: str = "linux/amd64", username: str | None = None,
                    password: str | None = None, timeout: float | None = None,
                    index_checks: Sequence[IndexCheck] = (),
                    config_analyzers: Sequence[ConfigAnalyzer] = (), skip: SkipPaths = NO_SKIP) -> Inventory:
    """Inventory of ``target``, every secret in the text it carries masked (:mod:`.redact`).
    ``skip``: paths no analyzer reads and no index check sees (--skip-dirs/--skip-files).
    ``cache=...`` uses the default LayerCache; ``None`` disables caching. ``index_checks`` run over the
    merged file index after the walk (see :data:`IndexCheck`), ``config_analyzers`` over the image
    config; their findings join the file analyzers' in ``file_findings``."""
    from containerguard.scanner.redact import redact_inventory

    return redact_inventory(_build_inventory(target, analyzers=analyzers, cache=cache, progress=progress,
                                             insecure=insecure, platform=platform, username=username,
                                             password=password, timeout=timeout, index_checks=index_checks,
                                             config_analyzers=config_analyzers, skip=skip))


def _build_inventory(target: str | ImageRef, *, analyzers: Sequence[Analyzer] | None = None,
                     cache: LayerCache | types.EllipsisType | None = ..., progress: Progress | None = None,
                     insecure: bool = False, platform: str = "linux/amd64", username: str | None = None,
                     password: str | None = None, timeout: float | None = None,
                     index_checks: Sequence[IndexCheck] = (),
                     config_analyzers: Sequence[ConfigAnalyzer] = (), skip: SkipPaths = NO_SKIP) -> Inventory:
    """:func:`build_inventory` before redaction (the scan still looks for secrets in the image config)."""
    ref = parse_target(target) if isinstance(target, str) else target
    if analyzers is None:
        analyzers = default_analyzers(lockfiles=ref.scheme == "dir")
    layer_cache: LayerCache | None = LayerCache() if isinstance(cache, types.EllipsisType) else cache
    cache_warning = []
    if layer_cache is not None:
        try:
            layer_cache.tmp_dir  # noqa: B018 - creates the directories, or says why it cannot
        except CacheError as exc:
            cache_warning.append(f"layer cache disabled: {exc}")
            layer_cache = None
    ids = analyzer_ids(analyzers)
    if progress:
        progress(ProgressEvent("open"))
    def on_export(n: int) -> None:
        if progress is not None:
            progress(ProgressEvent("export", bytes=n))

    with open_target(ref, insecure=insecure, platform=platform, username=username, password=password,
                     cache=layer_cache, timeout=timeout, on_export=on_export) as art:
        layers = list(art.layers())
        dir_root: Path | None = getattr(art, "root", None) if ref.scheme == "dir" else None
        if dir_root is not None:
            tmpdir = layer_cache.tmp_dir if layer_cache is not None else None
            records = [walk_dir_layer(dir_root, analyzers, tmpdir=tmpdir, skip=skip)]
            attribution: Sequence[Layer] | None = None
        else:
            records = [_layer_record(art, layer, analyzers, layer_cache, ids, progress, len(layers), skip)
                       for layer in layers]
            attribution = layers
        merged = apply(records, attribution)
        if merged.links:
            add_link_results(merged, _link_results(art, layers, records, merged.links, analyzers, layer_cache, ids,
                                                   dir_root, skip), attribution)
        meta = art.meta()
        open_warnings = list(art.warnings)
    index = {p: fi for p, fi in merged.files.items() if not skip.covers(p)} if skip and index_checks else merged.files
    index_findings = [f for check in index_checks for f in check(index, attribution)]
    # the image-config analyzers (Env, User, history): once per image, findings beside the files' ones
    config_findings = [f for ca in config_analyzers for f in ca.analyze_config(meta, layers).findings
                       ] if dir_root is None else []
    if progress:
        progress(ProgressEvent("done", len(layers), len(layers)))
    from containerguard.scanner.finalize import finalize

    os_info, final = finalize(merged.os if merged.os.known else None, merged.packages)
    packages = sorted(final, key=_pkg_sort)
    return Inventory(
        target=str(ref),
        os=os_info,
        packages=tuple(packages),
        layers=tuple(layers) if dir_root is None else (),
        image=meta if dir_root is None else None,
        warnings=tuple(dict.fromkeys([*open_warnings, *cache_warning, *merged.warnings])),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        file_findings=(*merged.findings, *index_findings, *config_findings),
    )


def _pkg_sort(p: Package) -> tuple[str, str, str, tuple[str, ...]]:
    return (p.type, p.name, p.version, p.locations)
