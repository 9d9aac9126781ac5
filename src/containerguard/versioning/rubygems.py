"""RubyGems versions, ordered as ``Gem::Version#<=>``.

Segments are runs of digits or of letters (``-`` means ``.pre.``); trailing zero segments of the
numeric part and of the string part are dropped; segments compare pairwise with a missing segment
read as 0, a string segment below any number (so ``1.0.a < 1.0``), strings by ASCII order.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme, pad_neutral

_VALID = re.compile(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
_SEG = re.compile(r"[0-9]+|[a-zA-Z]+")
_ZERO: Key = (1, 0)


def _sign(x: Key) -> int:
    # compared with the padding value 0: a string is below it, a number by its value
    return -1 if x[0] == 0 else (x[1] > 0) - (x[1] < 0)


class RubyGemsScheme(VersionScheme):
    name = "rubygems"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return pad_neutral([])
        if not _VALID.match(v):
            raise self.error(version)
        v = v.replace("-", ".pre.")
        segs: list[Key] = [(1, int(s)) if s.isdigit() else (0, s) for s in _SEG.findall(v)]
        first_str = next((i for i, s in enumerate(segs) if s[0] == 0), len(segs))
        num, strs = segs[:first_str], segs[first_str:]
        while num and num[-1] == _ZERO:
            num.pop()
        while strs and strs[-1] == _ZERO:
            strs.pop()
        return pad_neutral((x, _sign(x)) for x in num + strs)
