"""``--skip-dirs`` / ``--skip-files``: glob patterns over paths inside the image (or the scanned directory).

Patterns are written relative to the image root or the scanned directory (``usr/lib/node_modules``,
``**/testdata``, ``app/*.pem``), as Trivy users write them; matching is anchored at that root:

* ``*`` and ``?`` and ``[...]`` match within one path segment (never across ``/``);
* ``**`` as a whole segment matches any number of segments, none included (``a/**`` matches ``a``);
* ``--skip-dirs`` pattern: every path below a matching directory is skipped (and the directory itself);
  ``--skip-files`` pattern: the file whose whole path matches.

Each option value may hold several patterns separated by commas. A leading ``/`` or ``./`` means the same
root (``/usr/lib`` is ``usr/lib``, as Trivy users write it for images). An empty pattern, one with a ``..``
segment or one naming the root itself is refused (:class:`UsageError`): a pattern that cannot match a path
inside the tree is a mistake, not a no-op.

A skipped path is offered to no analyzer (packages, lockfiles, secrets, file checks) and is left out of
the file index the index checks see; the set's :attr:`SkipPaths.key` is part of every layer cache key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from containerguard.errors import UsageError

_NEVER = re.compile(r"(?!)")


def _segment(seg: str) -> str:
    """One path segment's glob as a regex that never crosses ``/``."""
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "*":
            while i + 1 < n and seg[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = seg.find("]", i + 2 if i + 1 < n and seg[i + 1] in "!^" else i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = seg[i + 1:j]
                neg = body[:1] in ("!", "^")
                body = body[1:] if neg else body
                out.append("[" + ("^/" if neg else "") + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> str:
    """The regex (to be full-matched) of a normalised pattern (see the module docstring)."""
    segs: list[str] = []
    for s in pattern.split("/"):
        if not (s == "**" and segs and segs[-1] == "**"):
            segs.append(s)
    rx = ""
    last = len(segs) - 1
    for i, s in enumerate(segs):
        if s == "**":
            if i == last:
                rx += ".*" if i == 0 else "(?:/.*)?"
            else:
                rx += "(?:[^/]+/)*" if i == 0 else "/(?:[^/]+/)*"
        else:
            if i > 0 and segs[i - 1] != "**":
                rx += "/"
            rx += _segment(s)
    return rx


def parse_patterns(values: Iterable[str], option: str) -> tuple[str, ...]:
    """Option values (repeatable, each comma-separated) -> normalised patterns; UsageError for a hostile one."""
    out: list[str] = []
    for value in values:
        for raw in str(value).split(","):
            p = raw.strip()
            if not p:
                raise UsageError(f"{option}: empty pattern in {value!r}")
            if "\x00" in p:
                raise UsageError(f"{option}: {p!r}: a pattern cannot hold a NUL byte")
            segs = [s for s in p.rstrip("/").split("/") if s not in ("", ".")]
            if ".." in segs:
                raise UsageError(f"{option}: {p!r}: '..' cannot name a path inside the image or directory")
            if not segs:
                raise UsageError(f"{option}: {p!r} names the root itself (use ** to skip everything)")
            out.append("/".join(segs))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class SkipPaths:
    """The paths a scan leaves alone. Build it with :meth:`parse` (it validates the patterns)."""

    dirs: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    _under: re.Pattern[str] = field(default=_NEVER, init=False, repr=False, compare=False)
    _dir: re.Pattern[str] = field(default=_NEVER, init=False, repr=False, compare=False)
    _file: re.Pattern[str] = field(default=_NEVER, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dirs:
            d = "|".join(f"(?:{glob_regex(p)})" for p in self.dirs)
            object.__setattr__(self, "_under", re.compile(f"(?:{d})/.+", re.S))
            object.__setattr__(self, "_dir", re.compile(f"(?:{d})(?:/.*)?", re.S))
        if self.files:
            object.__setattr__(self, "_file", re.compile("|".join(f"(?:{glob_regex(p)})" for p in self.files), re.S))

    @classmethod
    def parse(cls, dirs: Iterable[str] | None = None, files: Iterable[str] | None = None) -> SkipPaths:
        """``--skip-dirs`` and ``--skip-files`` values (each repeatable, comma-separated) validated and normalised."""
        return cls(parse_patterns(dirs or (), "--skip-dirs"), parse_patterns(files or (), "--skip-files"))

    def __bool__(self) -> bool:
        return bool(self.dirs or self.files)

    @property
    def key(self) -> str:
        """A stable fingerprint for cache keys ("" when nothing is skipped, so such keys do not change)."""
        return json.dumps([sorted(self.dirs), sorted(self.files)], separators=(",", ":")) if self else ""

    def file(self, path: str) -> bool:
        """True when the file (or link) at ``path`` is skipped: below a skipped directory or a skipped file."""
        return self._under.fullmatch(path) is not None or self._file.fullmatch(path) is not None

    def dir(self, path: str) -> bool:
        """True when the directory at ``path`` is skipped (it matches, or lies below one that does)."""
        return self._dir.fullmatch(path) is not None

    def filter(self) -> Callable[[str, bool], bool]:
        """``(path, is_dir) -> skipped`` (what :func:`containerguard.misconfig.scan.discover` takes)."""
        return lambda path, is_dir: self.dir(path) if is_dir else self.file(path)

    def covers(self, path: str) -> bool:
        """True when ``path`` of unknown kind is skipped (as a directory or as a file)."""
        return self.dir(path) or self._file.fullmatch(path) is not None


NO_SKIP = SkipPaths()
