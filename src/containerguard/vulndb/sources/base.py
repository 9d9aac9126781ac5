"""The source contract: a parser reads one downloaded file and writes rows into a ``Sink``.

Bad input inside a file (a record failing the OSV schema, an unknown ecosystem, a version the
comparator cannot parse, a corrupt zip member) is skipped and counted in ``SourceStats``; only a file that
cannot be read at all raises ``SourceCorrupt`` (the builder then keeps the previous data of that source).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from containerguard.errors import SourceCorrupt as SourceCorrupt  # parsers import it from here
from containerguard.errors import VersionError


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One file to download. ``kind`` selects the parser; ``param`` is its ecosystem or Alpine branch."""

    name: str  # osv/PyPI, alpine/v3.19/main, kev, epss
    kind: str  # osv | alpine | kev | epss
    url: str
    param: str = ""
    optional: bool = False  # a 404 means "not published" rather than an error


@dataclass(slots=True)
class SourceStats:
    records: int = 0
    skipped: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    withdrawn: int = 0

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped += n
        self.reasons[reason] += n


class Sink(Protocol):
    def advisory(self, row: tuple[Any, ...]) -> None: ...
    def affected(self, row: tuple[Any, ...]) -> None: ...
    def alias(self, row: tuple[str, str, str]) -> None: ...
    def kev(self, row: tuple[Any, ...]) -> None: ...
    def epss(self, row: tuple[Any, ...]) -> None: ...


Parser = Callable[[SourceSpec, Path, Sink, SourceStats, "VersionCheck"], None]


class VersionCheck:
    """Per-ecosystem version validation with the detector's own comparators, memoised."""

    def __init__(self) -> None:
        self._schemes: dict[str, Any] = {}
        self._ok: dict[tuple[str, str], bool] = {}

    def scheme(self, eco: str) -> Any | None:
        """The versioning scheme for an ecosystem, None when the ecosystem is unknown."""
        if eco not in self._schemes:
            from containerguard.versioning import get_scheme

            try:
                self._schemes[eco] = get_scheme(eco)
            except Exception:  # unknown ecosystem: the versioning registry raises its own error types
                self._schemes[eco] = None
        return self._schemes[eco]

    def valid(self, eco: str, version: str) -> bool:
        k = (eco, version)
        ok = self._ok.get(k)
        if ok is None:
            s = self.scheme(eco)
            if s is None:
                ok = False
            else:
                try:
                    s.key(version)
                    ok = True
                except (VersionError, ValueError, TypeError):
                    ok = False
            self._ok[k] = ok
        return ok
