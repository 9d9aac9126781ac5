"""Maven versions, ordered as Maven's ``ComparableVersion`` (maven-artifact 3.8).

The version is lower-cased and split on ``.``, ``-`` and digit/letter transitions into numbers,
qualifiers and nested lists (a ``-`` or a transition opens a sub-list); trailing "null" items
(0, the release qualifiers "", "ga", "final", empty lists) are dropped. Items compare as:
qualifier < list < number; qualifiers by rank ``alpha < beta < milestone < rc = cr < snapshot <
"" = ga = final = release < sp < any other (alphabetical)``; ``a1 b1 m1`` mean alpha-1, beta-1,
milestone-1; a qualifier after a dot opens a sub-list as after a hyphen (``1.0.0.X1 < 1.0.0-X2``);
a missing item compares as null (equal to 0 and to the release qualifier).
"""

from __future__ import annotations

import re
from typing import Any

from containerguard.versioning.base import Key, VersionScheme

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE = str(_QUALIFIERS.index(""))

# parsed items: ("i", int) | ("s", comparable qualifier) | ("l", list of items)
Item = tuple[str, Any]


def _qualifier(value: str, followed_by_digit: bool) -> Item:
    if followed_by_digit and len(value) == 1:
        value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
    value = _ALIASES.get(value, value)
    try:
        return ("s", str(_QUALIFIERS.index(value)))
    except ValueError:
        return ("s", f"{len(_QUALIFIERS)}-{value}")


def _is_null(item: Item) -> bool:
    kind, v = item
    if kind == "i":
        return bool(v == 0)
    if kind == "s":
        return bool(v == _RELEASE)
    return not v


def _normalize(lst: list[Item]) -> None:
    i = len(lst) - 1
    while i >= 0:
        if _is_null(lst[i]):
            del lst[i]
        elif lst[i][0] != "l":
            break
        i -= 1


def _parse_item(is_digit: bool, buf: str) -> Item:
    return ("i", int(buf)) if is_digit else _qualifier(buf, False)


def parse_items(version: str) -> list[Item]:
    version = version.lower()
    items: list[Item] = []
    lst = items
    stack = [lst]
    is_digit = False
    start = 0
    for i, c in enumerate(version):
        if c in ".-":
            lst.append(("i", 0) if i == start else _parse_item(is_digit, version[start:i]))
            start = i + 1
            if c == "-":
                new: list[Item] = []
                lst.append(("l", new))
                lst = new
                stack.append(lst)
        elif c.isdigit():
            if not is_digit and i > start:
                if lst:  # 1.0.0.X1 < 1.0.0-X2: a qualifier after a dot opens a sub-list, like after a hyphen
                    new = []
                    lst.append(("l", new))
                    lst = new
                    stack.append(lst)
                lst.append(_qualifier(version[start:i], True))
                start = i
                new = []
                lst.append(("l", new))
                lst = new
                stack.append(lst)
            is_digit = True
        else:
            if is_digit and i > start:
                lst.append(_parse_item(True, version[start:i]))
                start = i
                new = []
                lst.append(("l", new))
                lst = new
                stack.append(lst)
            is_digit = False
    if len(version) > start:
        if not is_digit and lst:
            new = []
            lst.append(("l", new))
            lst = new
            stack.append(lst)
        lst.append(_parse_item(is_digit, version[start:]))
    while stack:
        _normalize(stack.pop())
    return items


def _null_sign(item: Item) -> int:
    kind, v = item
    if kind == "i":
        return 1 if v else 0
    if kind == "s":
        return int((v > _RELEASE) - (v < _RELEASE))
    return _null_sign(v[0]) if v else 0


# Item ranks in the key. Maven's order with the "null" padding of a shorter list is not transitive
# (1.sp.1 < 1-alpha < 1 < 1.sp.1), so no key can follow it everywhere; these ranks follow it for the
# comparisons real versions make (qualifier < list < number; the end of a list sits at the release
# qualifier, between the lists that sort below and above a release) and give up only rare shapes: a
# dotted qualifier compared with a sub-list at the same position, or a 0 that is followed by a
# pre-release qualifier (1.0.rc.1) compared with a non-number.
_END: Key = (2, 0)


def _item_key(item: Item, rest_sign: int) -> Key:
    """``rest_sign``: how the list from this item on compares with nothing (for null-like items)."""
    kind, v = item
    if kind == "i":
        if v == 0 and rest_sign < 0:
            return (2, -1, 5, 0)
        return (5, v)
    if kind == "s":
        if v == _RELEASE and rest_sign < 0:
            return (2, -1, 3, v)
        return (0 if v < _RELEASE else 3, v)
    ns = _null_sign(item)
    return (1, _list_key(v)) if ns < 0 else (4, _list_key(v)) if ns > 0 else (2, 1, _list_key(v))


def _list_key(lst: list[Item]) -> Key:
    signs = [_null_sign(it) for it in lst]
    keys: list[Key] = []
    rest = 0
    for it, ns in zip(reversed(lst), reversed(signs), strict=True):
        if ns:
            rest = ns
        keys.append(_item_key(it, rest))
    keys.reverse()
    return (*keys, _END)


_NUMERIC = re.compile(r"\d+(?:\.\d+)*")


class MavenScheme(VersionScheme):
    name = "maven"

    def parse(self, version: str) -> Key:
        v = version.strip()
        if not v or any(ch.isspace() for ch in v):
            raise self.error(version)
        if _NUMERIC.fullmatch(v):  # the common 1.2.3: numbers only, trailing zeros dropped
            nums = [int(x) for x in v.split(".")]
            while nums and nums[-1] == 0:
                nums.pop()
            return (*((5, n) for n in nums), _END)
        return _list_key(parse_items(v))
