"""The version-scheme contract: a cached, totally ordered sort key per version string.

Every scheme turns a version string into a *key*: a plain tuple of ints, strs and nested tuples,
built so that Python's native tuple comparison orders keys exactly as the ecosystem's own tool
orders the versions. Keys are cached (``functools.lru_cache``), so matching many packages against
many ranges costs one parse per distinct string and then only C-level tuple comparisons.

Positions that can hold different kinds of value are tagged ``(rank, value)`` so that two keys of
the same scheme never compare an int with a str.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from containerguard.errors import VersionError

Key = tuple[Any, ...]

CACHE_SIZE = 1 << 17


class VersionScheme(ABC):
    """One ecosystem's version ordering. Instances are shared: get one with ``get_scheme``."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.key: Callable[[str], Key] = functools.lru_cache(maxsize=CACHE_SIZE)(self._checked_key)

    def _checked_key(self, version: str) -> Key:
        if not isinstance(version, str):
            raise VersionError(f"{self.name}: version must be a string, not {type(version).__name__}")
        if not version or len(version) > 256:
            raise VersionError(f"{self.name}: invalid version {version[:64]!r}")
        return self.parse(version)

    @abstractmethod
    def parse(self, version: str) -> Key:
        """The sort key of ``version``; raise ``VersionError`` when it cannot be parsed."""

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b``."""
        if a == b and isinstance(a, str):
            self.key(a)  # still refuses an unparseable string
            return 0
        key = self.key
        ka = key(a)
        kb = key(b)
        if ka < kb:
            return -1
        return 1 if kb < ka else 0

    def bound(self, version: str) -> str:
        """An advisory's range bound in the form ``key`` accepts. Identity here; schemes whose advisories
        are known to write bounds their ecosystem's tool would not (GitHub's ``1.90`` for ``1.90.0``)
        repair those, the way osv-scanner reads them."""
        return version

    def valid(self, version: str) -> bool:
        try:
            self.key(version)
        except VersionError:
            return False
        return True

    def sort(self, versions: Iterable[str]) -> list[str]:
        return sorted(versions, key=self.key)

    def __repr__(self) -> str:
        return f"<VersionScheme {self.name}>"

    def error(self, version: str, why: str = "") -> VersionError:
        return VersionError(f"{self.name}: invalid version {version[:64]!r}" + (f" ({why})" if why else ""))


def pad_neutral(items: Iterable[tuple[Key, int]]) -> Key:
    """Encode a sequence compared element-wise where the shorter side is padded with a neutral value Z.

    ``items`` holds (element key, sign of the element compared with Z). Runs of Z-equal elements are
    folded into the next element, so that plain tuple comparison gives the padded comparison:
    ``(1, -run, x)`` for elements above Z, ``(-1, run, x)`` for those below it, and ``(0,)`` at the end.
    """
    out: list[Key] = []
    run = 0
    for x, s in items:
        if s == 0:
            run += 1
        elif s > 0:
            out.append((1, -run, x))
            run = 0
        else:
            out.append((-1, run, x))
            run = 0
    out.append((0,))
    return tuple(out)
