"""Composer (Packagist) versions, ordered as Composer does it: normalise as ``VersionParser::normalize``
(``v`` prefix dropped, four numeric parts, stability suffixes alpha/beta/RC/patch/dev with their
numbers) and compare as PHP's ``version_compare`` (``dev < alpha < beta < RC < release < patch``).
Branch names (``dev-main``) are not ordered versions and raise ``VersionError``.
"""

from __future__ import annotations

import re

from containerguard.versioning.base import Key, VersionScheme

_CLASSIC = re.compile(
    r"^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?"
    r"(?:[._-]?(stable|beta|b|RC|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?$",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})"
    r"(?:[._-]?(stable|beta|b|RC|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?$",
    re.IGNORECASE,
)
# PHP version_compare special forms; a plain number counts as 4 against these
_FORMS = {"dev": 0, "alpha": 1, "beta": 2, "rc": 3, "patch": 5}
_STAB = {"a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta", "rc": "rc", "p": "patch", "pl": "patch",
         "patch": "patch", "stable": ""}
_NUMBER = 4
_END = (_NUMBER, -1)  # nothing left: below any further number; a further string compares its form with 4


class ComposerScheme(VersionScheme):
    name = "composer"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if v == "0":
            return ((_NUMBER, 0), _END)
        m = _CLASSIC.match(v)
        if m:
            nums = [int(m[1])] + [int(g[1:]) for g in m.group(2, 3, 4) if g]
            nums += [0] * (4 - len(nums))
        else:
            m = _DATE.match(v)
            if not m:
                raise self.error(version)
            nums = [int(x) for x in re.split(r"[.:-]", m[1]) if x]
        toks: list[Key] = [(_NUMBER, n) for n in nums]
        stab, stab_num, dev = m.group(m.re.groups - 2, m.re.groups - 1, m.re.groups)
        if stab:
            form = _STAB[stab.lower()]
            if form:
                toks.append((_FORMS[form],))
                toks.extend((_NUMBER, int(x)) for x in re.split(r"[.-]", stab_num or "") if x)
        if dev:
            toks.append((_FORMS["dev"],))
        toks.append(_END)
        return tuple(toks)
