"""The layer walker: one pass over a layer's tar, every file some analyzer requires given to it.

Produces a ``LayerRecord``: the layer's file index (path -> kind/mode/size/link), its whiteouts, the
AnalysisResult of every analysed path and the links some analyzer wanted (resolved later by the applier,
since their targets may live in another layer). A LayerRecord is plain data: the cache stores it.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.artifact import tarwalk
from containerguard.artifact.stream import blame_digest, drain
from containerguard.artifact.tarwalk import DEVICE, DIR, FILE, HARDLINK, OPAQUE, SYMLINK, WHITEOUT, Entry
from containerguard.errors import AnalyzerError, ArchiveError, CacheError
from containerguard.model import Package

if TYPE_CHECKING:
    from containerguard.scanner.skip import SkipPaths

SPOOL_MEMORY = 8 << 20  # files up to this size stay in memory while analysed
REG_MODE = 0o100644


@dataclass(slots=True)
class LayerRecord:
    #: path -> (kind, mode, size, link)
    """What the walk of one layer found: its file index, whiteouts, analyzer results and the links to resolve."""
    files: dict[str, tuple[str, int, int, str]] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaques: list[str] = field(default_factory=list)
    results: dict[str, AnalysisResult] = field(default_factory=dict)
    #: symlinks / hard links whose path some analyzer requires (content resolved by the applier)
    links: list[str] = field(default_factory=list)
    #: wanted symlink path -> (its target in this layer, the target's bytes analysed at the link's path),
    #: for a relative or absolute symlink met before its target file in the same layer (etc/os-release ->
    #: ../usr/lib/os-release): spares the second pass over the layer when the merged view agrees
    link_results: dict[str, tuple[str, AnalysisResult | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_analyzers(analyzers: Sequence[Analyzer], path: str, mode: int, size: int, fh: IO[bytes],
                  warn: Callable[[str], None],
                  read_sibling: Callable[[str], bytes] | None = None) -> AnalysisResult | None:
    """Run every analyzer in ``analyzers`` over one file; their results merged, or None when none found
    anything. ``read_sibling`` lets an analyzer read another file of the same tree (``dir:`` targets)."""
    result: AnalysisResult | None = None
    shared: dict[str, Any] = {}
    for a in _within_cap(analyzers, path, size, warn):  # callers that ruled out the oversized ones get no repeat
        fh.seek(0)
        try:
            r = a.analyze(AnalyzerInput(path=path, size=size, mode=mode, stream=fh, read_sibling=read_sibling,
                                         shared=shared))
        except AnalyzerError as exc:
            warn(f"{path}: {a.type}: {exc}")
            continue
        except Exception as exc:  # a faulty (third-party) analyzer must not stop the scan
            warn(f"{path}: {a.type} analyzer failed: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        if r.packages:
            _drop_malformed(r, path, a.type)
        if not (r.packages or r.findings or r.warnings or r.os is not None or r.system_files):
            continue  # nothing found (most dpkg info/*.list files): no empty entry in the layer record and cache
        if result is None:
            result = r
        else:
            result.merge(r)
    return result


#: C0 and C1 control characters and DEL: in no ecosystem's package names or versions (a NUL, an escape
#: sequence or a newline there is a corrupt or hostile database, and would be matched, stored and shown)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _drop_malformed(r: AnalysisResult, path: str, analyzer: str) -> None:
    """Take the packages whose name or version holds control characters out of ``r``, one warning each
    (at most 20, then a count), whatever analyzer (a built-in or a plug-in) produced them."""
    keep: list[Package] = []
    bad: list[Package] = []
    for p in r.packages:
        (bad if _CONTROL.search(p.name) or _CONTROL.search(p.version) else keep).append(p)
    if not bad:
        return
    r.packages = keep
    for p in bad[:20]:
        r.warnings.append(f"{path}: {analyzer}: package with control characters in its name or version "
                          f"skipped ({tarwalk.printable_name(p.name)[:60]!r} {p.version[:40]!r})")
    if len(bad) > 20:
        r.warnings.append(f"{path}: {analyzer}: {len(bad) - 20} more packages with control characters skipped")


def _within_cap(analyzers: Sequence[Analyzer], path: str, size: int, warn: Callable[[str], None]) -> list[Analyzer]:
    """The analyzers whose ``max_size`` admits a file of ``size`` bytes; one warning for each of the others."""
    keep = []
    for a in analyzers:
        if size > a.max_size:
            warn(f"{path}: {size} bytes, larger than the {a.type} analyzer's cap; skipped")
        else:
            keep.append(a)
    return keep


def _analyse_file(e: Entry, src: IO[bytes], wanted: list[Analyzer], linked: list[tuple[str, list[Analyzer]]],
                  tmpdir: Path | None, record: LayerRecord, warn: Callable[[str], None],
                  read_sibling: Callable[[str], bytes] | None) -> None:
    """Run the ``wanted`` analyzers over one file, and each pending link's analyzers at the link's path."""
    with src, spool(src, e.size, tmpdir) as fh:
        if wanted:
            r = run_analyzers(wanted, e.path, e.mode, e.size, fh, warn, read_sibling)
            if r is not None:
                record.results[e.path] = r
        for lp, users in linked:
            record.link_results[lp] = (e.path, run_analyzers(users, lp, REG_MODE, e.size, fh, warn))


def _open_or_warn(opener: Callable[[Entry], IO[bytes]], e: Entry, warn: Callable[[str], None]) -> IO[bytes] | None:
    """The entry's content, or None with one warning when a ``dir:`` file cannot be opened (permission
    denied, removed since the walk): that file is skipped, the scan goes on."""
    try:
        return opener(e)
    except OSError as exc:
        warn(f"{e.path}: cannot read ({exc.strerror or exc}); skipped")
        return None


def _pending_links(links: Sequence[str], path: str, size: int, analyzers: Sequence[Analyzer],
                   warn: Callable[[str], None], link_results: dict[str, tuple[str, AnalysisResult | None]],
                   ) -> list[tuple[str, list[Analyzer]]]:
    """The symlinks to ``path`` met earlier in the layer, each with the analyzers to run at its path; a link
    no analyzer can take (none wants it, or the file is over their caps) is decided here, with no result,
    so that no second pass re-reads the layer for it."""
    out = []
    for lp in links:
        users = _within_cap([a for a in analyzers if a.follows_links and a.required(lp, REG_MODE)], lp, size, warn)
        if users:
            out.append((lp, users))
        else:
            link_results[lp] = (path, None)
    return out


def spool(src: IO[bytes], size: int, tmpdir: Path | None) -> IO[bytes]:
    """A seekable copy of ``src`` (in memory up to a cap, then in ``tmpdir``) for analyzers that seek."""
    if size <= SPOOL_MEMORY:  # one read into one bytes object, which BytesIO shares without a second copy
        try:
            parts, got = [], 0
            while got < size and (b := src.read(size - got)):
                parts.append(b)
                got += len(b)
            extra = src.read(1)
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"truncated tar stream while reading a file ({str(exc)[:80]})") from None
        if got != size or extra:
            raise ArchiveError("truncated tar stream while reading a file")
        return io.BytesIO(parts[0] if len(parts) == 1 else b"".join(parts))
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=str(tmpdir) if tmpdir else None)  # noqa: SIM115
    try:
        while chunk := src.read(1 << 20):
            try:
                out.write(chunk)
            except OSError as exc:  # the disk holding the spool is full (or a file-size limit): say where
                where = tmpdir or tempfile.gettempdir()
                raise CacheError(f"cannot hold a {size}-byte file for analysis in {where}: "
                                 f"{exc.strerror or exc}") from None
    except (tarfile.TarError, EOFError) as exc:
        out.close()
        raise ArchiveError(f"truncated tar stream while reading a file ({str(exc)[:80]})") from None
    except CacheError:
        out.close()
        raise
    if out.tell() != size:
        out.close()
        raise ArchiveError("truncated tar stream while reading a file")
    out.seek(0)
    return out


def analyze_entries(entries: Iterator[Entry], analyzers: Sequence[Analyzer], tmpdir: Path | None,
                    counts: Counter[str], record: LayerRecord, warn: Callable[[str], None],
                    opener: Callable[[Entry], IO[bytes]] | None = None, link_targets: bool = False,
                    read_sibling: Callable[[str], bytes] | None = None) -> None:
    """Index ``entries`` into ``record``, analysing every file some analyzer requires. ``link_targets``: also
    analyse, at the link's path, the target file of a wanted symlink met earlier in the same stream
    (``record.link_results``; a tar layer only, where a second pass would re-read the whole layer)."""
    files = record.files
    results = record.results
    link_results = record.link_results
    pending: dict[str, list[str]] = {}  # lexical target -> wanted symlinks pointing at it
    for e in entries:
        kind = e.kind
        path = e.path
        if link_results:
            link_results.pop(path, None)  # the link itself was replaced
        if kind == WHITEOUT:
            record.whiteouts.append(path)
            continue
        if kind == OPAQUE:
            record.opaques.append(path)
            continue
        files[path] = (kind, e.mode, e.size, e.link)
        if kind == FILE:
            # an analyzer whose size cap the file exceeds is told off here, before anything is copied: a
            # 10 GB file (or a 10 KB sparse entry declaring 10 GB) is skipped in the stream, never spooled
            wanted = _within_cap([a for a in analyzers if a.required(path, e.mode)], path, e.size, warn)
            if path in results:  # a duplicate entry replaces the earlier one's results
                del results[path]
            linked = _pending_links(pending.get(path, ()), path, e.size, analyzers, warn, link_results) if pending else []
            if not wanted and not linked:
                continue
            src = _open_or_warn(opener or Entry.open, e, warn)
            if src is not None:
                _analyse_file(e, src, wanted, linked, tmpdir, record, warn, read_sibling)
        elif kind in (SYMLINK, HARDLINK):
            results.pop(path, None)
            if any(a.follows_links and a.required(path, REG_MODE) for a in analyzers):
                record.links.append(path)
                if kind == SYMLINK and link_targets:
                    pending.setdefault(lexical_target(path, e.link), []).append(path)
        elif kind in (DIR, DEVICE):
            results.pop(path, None)


def unskipped(entries: Iterator[Entry], skip: Callable[[str], bool] | None) -> Iterator[Entry]:
    """``entries`` less the files and links ``skip`` names (--skip-dirs/--skip-files): no analyzer is
    offered them, their bytes are never read, no link resolves to them."""
    if skip is None:
        return entries
    return (e for e in entries if e.kind not in (FILE, SYMLINK, HARDLINK) or not skip(e.path))


def lexical_target(path: str, link: str) -> str:
    """Where symlink ``path`` -> ``link`` points, by its text alone (``..`` at the root stays there)."""
    parts: list[str] = [] if link.startswith("/") else path.split("/")[:-1]
    for p in link.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/".join(parts)


def walk_tar_layer(stream: IO[bytes], analyzers: Sequence[Analyzer], *, tmpdir: Path | None = None,
                   what: str = "layer", skip: Callable[[str], bool] | None = None) -> LayerRecord:
    """Analyse one uncompressed layer stream; reads it to the end so its digests are verified."""
    record = LayerRecord()
    counts: Counter[str] = Counter()
    warnings: list[str] = []
    try:
        analyze_entries(unskipped(tarwalk.walk(stream, counts, what), skip), analyzers, tmpdir, counts, record,
                        warnings.append, link_targets=True)
        drain(stream)
    except (tarfile.TarError, EOFError) as exc:
        blame_digest(stream)
        raise ArchiveError(f"{what}: corrupt tar stream ({str(exc)[:120]})") from None
    except ArchiveError:
        blame_digest(stream)
        raise
    record.links = list(dict.fromkeys(record.links))
    record.warnings = tarwalk.warning_lines(counts, what) + warnings
    return record


def extract_files(stream: IO[bytes], wanted: set[str], tmpdir: Path | None, what: str = "layer",
                  max_size: int | None = None) -> dict[str, IO[bytes]]:
    """Spool the regular files named in ``wanted`` (a second, targeted pass used for link targets); a file
    over ``max_size`` bytes (no analyzer would read it) is left out, never copied."""
    out: dict[str, IO[bytes]] = {}
    counts: Counter[str] = Counter()
    try:
        for e in tarwalk.walk(stream, counts, what):
            if e.kind == FILE and e.path in wanted and (max_size is None or e.size <= max_size):
                with e.open() as src:
                    old = out.pop(e.path, None)
                    if old is not None:
                        old.close()
                    out[e.path] = spool(src, e.size, tmpdir)
        drain(stream)
    except (tarfile.TarError, EOFError) as exc:
        for f in out.values():
            f.close()
        raise ArchiveError(f"{what}: corrupt tar stream ({str(exc)[:120]})") from None
    except BaseException:
        for f in out.values():
            f.close()
        raise
    return out


# --------------------------------------------------------------------------- dir: targets


def walk_directory(root: Path, counts: Counter[str], skip_dir: Callable[[str], bool] | None = None) -> Iterator[Entry]:
    """Entries of a directory tree (``dir:`` targets), without following symlinks; ``.git`` and the
    directories ``skip_dir`` names (--skip-dirs) are not entered."""
    stack = [("", str(root))]
    while stack:
        rel, full = stack.pop()
        try:
            it = os.scandir(full)
        except OSError:
            counts["unreadable"] += 1
            continue
        with it:
            for de in it:
                name = tarwalk.printable_name(de.name, counts)  # shown and matched; opened by de.path
                p = f"{rel}/{name}" if rel else name
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError:
                    counts["unreadable"] += 1
                    continue
                if p.count("/") >= tarwalk.MAX_DEPTH or len(p) > tarwalk.MAX_PATH:
                    counts["too_deep"] += 1
                    continue
                m = st.st_mode
                if de.is_symlink():
                    try:
                        link = tarwalk.printable_name(os.readlink(de.path))
                    except OSError:
                        link = ""
                    yield Entry(p, SYMLINK, m, 0, link)
                elif de.is_dir(follow_symlinks=False):
                    if de.name == ".git" or (skip_dir is not None and skip_dir(p)):
                        continue
                    yield Entry(p, DIR, m, 0)
                    stack.append((p, de.path))
                elif de.is_file(follow_symlinks=False):
                    yield Entry(p, FILE, m, st.st_size, "", None, de.path)
                else:
                    counts["device"] += 1
                    yield Entry(p, DEVICE, m, 0)


def _open_dir_entry(e: Entry) -> IO[bytes]:
    """A ``dir:`` file read as the walk saw it: at most the size ``stat`` gave (a log that grows while the
    scan reads it, or a /proc file whose size is 0, once stopped the scan with "truncated tar stream")."""
    return cast(IO[bytes], tarwalk.Bounded(open(e._info, "rb"), e.size, owns=True))


SIBLING_MAX = 16 << 20


def tree_reader(root: Path, skip: SkipPaths | None = None) -> Callable[[str], bytes]:
    """A bounded reader of files inside ``root`` by their tree path: an absolute path, one leaving the tree
    (``..`` or a symlink pointing out), a path ``skip`` names or a file over 16 MiB is refused with an
    AnalyzerError."""
    base = root.resolve()

    def read(rel: str) -> bytes:
        norm = posixpath.normpath(rel)
        if rel.startswith("/") or norm == ".." or norm.startswith("../"):
            raise AnalyzerError(f"{rel}: outside the scanned tree")
        if skip and skip.file(norm):
            raise AnalyzerError(f"{rel}: skipped (--skip-dirs/--skip-files)")
        try:
            real = (base / norm).resolve(strict=True)
            if not real.is_relative_to(base):
                raise AnalyzerError(f"{rel}: outside the scanned tree")
            if skip and skip.file(real.relative_to(base).as_posix()):
                raise AnalyzerError(f"{rel}: skipped (--skip-dirs/--skip-files)")
            if not real.is_file():
                raise AnalyzerError(f"{rel}: not a regular file")
            with open(real, "rb") as fh:
                data = fh.read(SIBLING_MAX + 1)
        except OSError as exc:
            raise AnalyzerError(f"{rel}: cannot read ({exc.strerror or exc})") from None
        if len(data) > SIBLING_MAX:
            raise AnalyzerError(f"{rel}: larger than {SIBLING_MAX} bytes")
        return data

    return read


def walk_dir_layer(root: Path, analyzers: Sequence[Analyzer], *, tmpdir: Path | None = None,
                   skip: SkipPaths | None = None) -> LayerRecord:
    """Walk a directory tree as one layer (``dir:`` targets): the analyzers see the files they require."""
    record = LayerRecord()
    counts: Counter[str] = Counter()
    warnings: list[str] = []

    def opener(e: Entry) -> IO[bytes]:
        return _open_dir_entry(e)

    skip = skip or None
    entries = walk_directory(root, counts, skip.dir if skip else None)
    analyze_entries(unskipped(entries, skip.file if skip else None), analyzers, tmpdir, counts, record,
                    warnings.append, opener, read_sibling=tree_reader(root, skip))
    if counts.get("unreadable"):
        warnings.append(f"{root}: {counts.pop('unreadable')} unreadable entries skipped")
    record.warnings = tarwalk.warning_lines(counts, str(root)) + warnings
    return record
