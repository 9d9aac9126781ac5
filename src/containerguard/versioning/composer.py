"""Composer (Packagist) versions, ordered as Composer orders them.

Normalised as composer/semver's ``VersionParser::normalize`` (``v`` prefix, aliases, ``@stability``
flags and build metadata dropped; four numeric parts; date versions; stability suffixes
alpha/beta/RC/patch with their numbers and ``-dev``; numeric ``1.x-dev`` branches), then compared as
PHP's ``version_compare`` (``dev < alpha < beta < RC < a number < patch``, a further number beats
nothing). Named branches (``dev-main``, ``master``) are not ordered versions: ``VersionError``.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?"
_CLASSIC = re.compile(r"v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?" + _MODIFIER, re.IGNORECASE)
_DATE = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER, re.IGNORECASE)
_BRANCH = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE)
_NUMERIC_BRANCH = re.compile(r"v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?", re.IGNORECASE)
_ALIAS = re.compile(r"([^,\s]+) +as +([^,\s]+)")
_FLAG = re.compile(r"@(?:stable|RC|beta|alpha|dev)$", re.IGNORECASE)
_BUILD = re.compile(r"([^,\s+]+)\+\S+")

# PHP version_compare's special forms (matched by prefix, first match wins); a number counts as "#"
_FORMS = (("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3), ("#", 4),
          ("pl", 5), ("p", 5))
_STAB = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
_NUMBER = 4
_END: Key = (_NUMBER, -1)  # nothing left: below any further number; a further word compares its form with "#"


def _form(word: str) -> int:
    for name, order in _FORMS:
        if word.startswith(name):
            return order
    return -1


def php_version_key(normalized: str) -> Key:
    """The version_compare key of a string: digit runs are numbers, letter runs special forms."""
    toks: list[Key] = []
    for num, word in re.findall(r"(\d+)|([^\d\W_]+)", normalized):
        toks.append((_NUMBER, int(num)) if num else (_form(word),))
    toks.append(_END)
    return tuple(toks)


class ComposerScheme(VersionScheme):
    name = "composer"

    def normalize(self, version: str) -> str:
        v = version.strip()
        m = _ALIAS.fullmatch(v)
        if m:
            v = m[1]
        f = _FLAG.search(v)
        if f:
            v = v[: f.start()]
        if v in ("master", "trunk", "default") or v[:4].lower() == "dev-":
            raise self.error(version, "a branch, not a version")
        b = _BUILD.fullmatch(v)
        if b:
            v = b[1]
        m = _CLASSIC.fullmatch(v)
        if m:
            out = m[1] + "".join(g or ".0" for g in m.group(2, 3, 4))
            index = 5
        else:
            m = _DATE.fullmatch(v)
            if m:
                out = re.sub(r"\D", ".", m[1])
                index = 2
        if m:
            stab, num, dev = m.group(index, index + 1, index + 2)
            if stab:
                if stab == "stable":
                    return out
                out += "-" + _STAB.get(stab.lower(), stab.lower()) + (num or "").lstrip(".-")
            if dev:
                out += "-dev"
            return out
        d = _BRANCH.fullmatch(v)
        if d:
            nb = _NUMERIC_BRANCH.fullmatch(d[1].strip())
            if nb:
                parts = "".join((g or ".x").replace("*", "x").replace("X", "x") for g in nb.group(1, 2, 3, 4))
                return parts.replace("x", "9999999") + "-dev"
        raise self.error(version)

    def parse(self, version: str) -> Key:
        return php_version_key(self.normalize(version))
