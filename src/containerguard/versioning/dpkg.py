"""Debian package versions, ordered as ``dpkg --compare-versions`` orders them.

``[epoch:]upstream[-revision]``: the epoch is compared numerically, then upstream and revision with
dpkg's ``verrevcmp``: alternating non-digit and digit runs; in non-digit runs ``~`` sorts before
everything (even the end of the run), then the end, then letters, then every other character; digit
runs compare numerically. Accepts what dpkg accepts: dpkg only warns on a non-digit first character or an unusual character,
so those compare too; an empty part or a non-numeric epoch is an error, as in dpkg.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme


def _code(c: str) -> str:
    # one character per character, ordered as dpkg orders them: '~' < end of run < letters < the rest
    if c == "~":
        return "\x01"
    if c.isascii() and c.isalpha():
        return chr(0x100 + ord(c))
    return chr(0x200 + ord(c))


_TABLE = str.maketrans({chr(i): _code(chr(i)) for i in range(128) if not chr(i).isdigit()})
_RUN_END = "\x02"
_SPLIT = re.compile(r"(\d+)").split


def verrev_key(s: str) -> Key:
    """The key of an upstream or revision part: a flat (run, number, run, number, ..., end, 0) tuple.

    Runs are re-coded so that plain string comparison is dpkg's character order, and each carries an
    end mark so that a longer run compares with a shorter one as dpkg does (``a~`` < ``a`` < ``aa``).
    The final (end, 0) pair stands for "nothing left", which dpkg reads as an empty run and 0.
    """
    parts = _SPLIT(s)
    out: list[str | int] = []
    for i in range(0, len(parts) - 1, 2):
        out.append(parts[i].translate(_TABLE) + _RUN_END)
        out.append(int(parts[i + 1]))
    last = parts[-1]
    if last:
        out.append(last.translate(_TABLE) + _RUN_END)
        out.append(0)
    if not out:  # an empty part reads as an empty run and 0, like "0"
        out += [_RUN_END, 0]
    out.append(_RUN_END)
    out.append(0)
    return tuple(out)


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
