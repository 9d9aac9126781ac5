"""Semantic Versioning 2.0 orderings: npm (node-semver), Cargo, Hex (Elixir), Pub (Dart) and Go.

All compare MAJOR.MINOR.PATCH numerically, then the pre-release: a version with one sorts before the
same version without; identifiers compare numerically when both are numeric, a numeric one sorts
before an alphanumeric one, alphanumerics compare in ASCII order, and a shorter list that is a prefix
of a longer one sorts first. Build metadata is ignored, except by Pub, where a build sorts after none.

OSV uses the string ``"0"`` as "introduced at the beginning"; every scheme here accepts it as the
lowest version of all.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme

_NUM = r"0|[1-9]\d*"
_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_STRICT = re.compile(
    rf"^v?({_NUM})\.({_NUM})\.({_NUM})(?:-({_ID}(?:\.{_ID})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_STRICT_NO_V = re.compile(_STRICT.pattern.replace("^v?", "^", 1))
MIN_KEY: Key = (-1,)
_MAX_SAFE = 2**53 - 1
_RELEASE: Key = (1,)


def prerelease_key(pre: str | None, lower: bool = False) -> Key:
    """(1,) without a pre-release; else (0, ids) with ids tagged (0, n) numeric / (1, s) alphanumeric."""
    if pre is None:
        return _RELEASE
    ids: list[Key] = []
    for part in pre.split("."):
        if part.isdigit():
            ids.append((0, int(part), ""))
        else:
            ids.append((1, 0, part.lower() if lower else part))
    return (0, tuple(ids))


#: a bound with missing MINOR/PATCH or leading zeros (``1.90``, ``19.03.9``, ``2.10-rc2``, ``3.0-beta1``); the
#: pre-release must start with a letter, so a date (``2018-05-19``) is never read as 2018.0.0-05-19
_LOOSE = re.compile(r"^(v?)(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[a-zA-Z][0-9A-Za-z.-]*)?(\+[0-9A-Za-z.-]+)?$")


def coerce(version: str) -> str:
    """``1.90`` -> ``1.90.0``, ``19.03.9`` -> ``19.3.9``, ``2.10-rc2`` -> ``2.10.0-rc2``; anything else as is.
    GitHub's advisories write such bounds in SEMVER ranges; osv-scanner's semantic parser pads and reads them
    numerically, and dropping the range instead would lose the advisory."""
    m = _LOOSE.match(version.strip())
    if not m:
        return version
    nums = ".".join(str(int(x or 0)) for x in m.group(2, 3, 4))
    return f"{m[1]}{nums}{m[5] or ''}{m[6] or ''}"


class _SemverBounds(VersionScheme):
    def bound(self, version: str) -> str:
        if self.valid(version):
            return version
        fixed = coerce(version)
        return fixed if fixed != version and self.valid(fixed) else version


class NpmScheme(_SemverBounds):
    """node-semver ``compare`` in strict mode: an optional leading ``v``, no leading zeros."""

    name = "semver"
    _re = _STRICT

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return MIN_KEY
        m = self._re.match(v)
        if not m:
            raise self.error(version)
        major, minor, patch = int(m[1]), int(m[2]), int(m[3])
        if max(major, minor, patch) > _MAX_SAFE:
            raise self.error(version, "number too large")
        return (0, major, minor, patch, prerelease_key(m[4]))


class CargoScheme(NpmScheme):
    """Cargo (the ``semver`` crate): SemVer 2.0 without a ``v`` prefix."""

    name = "cargo"
    _re = _STRICT_NO_V


class HexScheme(NpmScheme):
    """Hex (Elixir's ``Version``): SemVer 2.0 without a ``v`` prefix."""

    name = "hex"
    _re = _STRICT_NO_V


_PUB = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


class PubScheme(_SemverBounds):
    """Dart's pub_semver: like SemVer, and a version with build metadata sorts after the one without."""

    name = "pub"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return MIN_KEY
        m = _PUB.match(v)
        if not m:
            raise self.error(version)
        build: Key = (0,) if m[5] is None else (1, prerelease_key(m[5])[1])
        return (0, int(m[1]), int(m[2]), int(m[3]), prerelease_key(m[4]), build)


_GO = re.compile(
    rf"^v?({_NUM})(?:\.({_NUM})(?:\.({_NUM})(?:-({_ID}(?:\.{_ID})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?$"
)
_GO_TOOLCHAIN = re.compile(r"^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?$")


class GoScheme(_SemverBounds):
    """Go modules (golang.org/x/mod/semver): ``v`` optional here; ``v1`` and ``v1.2`` mean ``v1.0.0`` and
    ``v1.2.0``; pseudo-versions order as the pre-releases they are; ``+incompatible`` is ignored.
    Go toolchain names (``go1.21.3``, ``go1.22rc1``) are read as the Go vulnerability database does
    (``1.21.3``, ``1.22.0-rc.1``)."""

    name = "go"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return MIN_KEY
        t = _GO_TOOLCHAIN.match(v)
        if t:
            pre = f"{t[4]}.{t[5]}" if t[4] else None
            return (0, int(t[1]), int(t[2] or 0), int(t[3] or 0), prerelease_key(pre))
        m = _GO.match(v)
        if not m:
            raise self.error(version)
        return (0, int(m[1]), int(m[2] or 0), int(m[3] or 0), prerelease_key(m[4]))


_NUGET = re.compile(
    r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


class NugetScheme(VersionScheme):
    """NuGet: up to four numeric parts (missing ones are 0), pre-release labels compared without case,
    numeric labels numerically (leading zeros allowed, as NuGet's legacy versions have them)."""

    name = "nuget"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return MIN_KEY
        m = _NUGET.match(v)
        if not m:
            raise self.error(version)
        nums = tuple(int(x) if x else 0 for x in m.group(1, 2, 3, 4))
        return (0, *nums, prerelease_key(m[5], lower=True))
