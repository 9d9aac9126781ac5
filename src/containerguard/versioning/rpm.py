"""RPM versions, ordered as rpm's ``rpmvercmp`` / ``labelCompare`` order them.

``[epoch:]version[-release]``. Each part is split into alphanumeric segments (every other character
separates); ``~`` sorts before everything including the end, ``^`` after the end but before any
segment; a numeric segment beats an alphabetic one; numbers compare numerically, letters by byte.
A missing epoch is 0. rpm treats a missing release as matching any release (not a total order);
here it sorts before every release, which gives the same answer for "is X below the fixed version"
whenever the fixed version names a release.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme

# token ranks: ~ < end < ^ < alpha < number
_TILDE = (0,)
_END = (1,)
_CARET = (2,)


_TOKENS = re.compile(r"~|\^|[0-9]+|[A-Za-z]+").findall


def rpmvercmp_key(s: str) -> Key:
    """Segments in order (every other character only separates them), then the end mark."""
    out: list[Key] = []
    for t in _TOKENS(s):
        c = t[0]
        if c == "~":
            out.append(_TILDE)
        elif c == "^":
            out.append(_CARET)
        elif c <= "9":
            out.append((4, int(t)))
        else:
            out.append((3, t))
    out.append(_END)
    return tuple(out)


class RpmScheme(VersionScheme):
    name = "rpm"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if not v or any(ch.isspace() for ch in v) or not v.isascii():
            raise self.error(version)
        epoch = 0
        colon = v.find(":")
        if colon >= 0:
            e = v[:colon]
            if e:
                if not e.isdigit():
                    raise self.error(version, "epoch is not a number")
                epoch = int(e)
            v = v[colon + 1 :]
        hyphen = v.rfind("-")
        if hyphen >= 0:
            ver, rel = v[:hyphen], v[hyphen + 1 :]
            if not rel:
                raise self.error(version, "empty release")
            release: Key = (1, rpmvercmp_key(rel))
        else:
            ver, release = v, (0,)
        if not ver:
            raise self.error(version, "empty version")
        return (epoch, rpmvercmp_key(ver), release)
