"""Debian package versions, ordered as ``dpkg --compare-versions`` orders them.

``[epoch:]upstream[-revision]``: the epoch is compared numerically, then upstream and revision with
dpkg's ``verrevcmp``: alternating non-digit and digit runs; in non-digit runs ``~`` sorts before
everything (even the end of the run), then the end, then letters, then every other character; digit
runs compare numerically. Accepts what dpkg accepts: dpkg only warns on a non-digit first character or an unusual character,
so those compare too; an empty part or a non-numeric epoch is an error, as in dpkg.
"""

from __future__ import annotations

from containerguard.versioning.base import Key, VersionScheme


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


# one code per character; the end of a non-digit run is 0, which sorts between '~' and every other char
_ORDER = {chr(i): _order(chr(i)) for i in range(256)}
_END = ((0,), 0)


def verrev_key(s: str) -> Key:
    """The key of one upstream or revision part: ((run codes..., 0), number) pairs, then an end pair."""
    parts: list[tuple[tuple[int, ...], int]] = []
    i = 0
    n = len(s)
    while True:
        j = i
        while j < n and not ("0" <= s[j] <= "9"):
            j += 1
        codes = (*(_ORDER[c] for c in s[i:j]), 0)
        k = j
        while k < n and "0" <= s[k] <= "9":
            k += 1
        parts.append((codes, int(s[j:k]) if k > j else 0))
        i = k
        if i >= n:
            break
    parts.append(_END)
    return tuple(parts)


class DpkgScheme(VersionScheme):
    name = "dpkg"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if not v:
            raise self.error(version, "empty")
        if any(c.isspace() for c in v):
            raise self.error(version, "embedded spaces")
        epoch = 0
        colon = v.find(":")
        if colon >= 0:
            e = v[:colon]
            if not e or not e.isascii() or not e.isdigit():
                raise self.error(version, "epoch is not a number")
            epoch = int(e)
            v = v[colon + 1 :]
            if not v:
                raise self.error(version, "nothing after the colon")
        hyphen = v.rfind("-")
        if hyphen >= 0:
            upstream, revision = v[:hyphen], v[hyphen + 1 :]
            if not revision:
                raise self.error(version, "empty revision")
        else:
            upstream, revision = v, ""
        if not upstream:
            raise self.error(version, "empty upstream version")
        if not v.isascii():
            # dpkg compares bytes; non-ASCII never occurs in real archives, so refuse it rather than guess
            raise self.error(version, "non-ASCII character")
        return (epoch, verrev_key(upstream), verrev_key(revision))
