"""Alpine (apk) versions, ordered as apk-tools 2 orders them.

Gentoo-style ``digits{.digits}[letter]{_suffix[digits]}[-rN]``. Suffixes ``_alpha _beta _pre _rc`` sort
before the bare version, ``_cvs _svn _git _hg _p`` after it. The version is read as a sequence of
typed tokens; two versions compare token by token (value first), and where one has a different next
token the one whose next token is a pre-release suffix, or else the one with the "later" token type
(ending before the other continues), is the lower. A ``.0``-style run of leading zeros is its own
token (``1.01 < 1.1``), as apk-tools does it.
"""

from __future__ import annotations

from containerguard.versioning.base import Key, VersionScheme

_DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END = range(7)
_PRE = ("alpha", "beta", "pre", "rc")
_POST = ("cvs", "svn", "git", "hg", "p")
_PRE_RANK = -100  # a pre-release suffix sorts below every other next-token type


def _tokens(s: str) -> list[tuple[int, int]] | None:
    """[(type, value), ...] ending with (_END, 0); None when apk would call the version invalid."""
    out: list[tuple[int, int]] = []
    t = _DIGIT
    i = 0
    n = len(s)
    while True:
        if i >= n:
            out.append((_END, 0))
            return out
        tok = _token_value(s, i, t)
        if tok is None:
            return None
        v, i, nt = tok
        out.append((t, v))
        if i >= n:
            out.append((_END, 0))
            return out
        if nt != -1:
            t = nt
            continue
        nxt = _next_token_type(s, i, t)
        if nxt is None:
            return None
        t, i = nxt


def _token_value(s: str, i: int, t: int) -> tuple[int, int, int] | None:
    """(value, index after it, forced next type or -1) of the token of type ``t`` at ``s[i]``; None when
    the text there is not one."""
    n = len(s)
    v = 0
    start = i
    nt = -1
    if t == _DIGIT_OR_ZERO and s[i] == "0":
        while i < n and s[i] == "0":
            i += 1
        nt = _DIGIT
        v = -(i - start)
    elif t in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
        while i < n and "0" <= s[i] <= "9":
            i += 1
        v = int(s[start:i]) if i > start else 0
    elif t == _LETTER:
        v = ord(s[i])
        i += 1
    elif t == _SUFFIX:
        return _suffix_value(s, i)
    else:
        return None
    return v, i, nt


def _suffix_value(s: str, i: int) -> tuple[int, int, int] | None:
    """A pre-release (negative) or post-release suffix name at ``s[i]``."""
    for idx, suf in enumerate(_PRE):
        if s.startswith(suf, i):
            return idx - len(_PRE), i + len(suf), -1
    for idx, suf in enumerate(_POST):
        if s.startswith(suf, i):
            return idx, i + len(suf), -1
    return None


def _next_token_type(s: str, i: int, t: int) -> tuple[int, int] | None:
    """The type of the token after one of type ``t`` that ended at ``s[i]`` (and where it starts: past a
    separator); None for an order apk refuses."""
    n = len(s)
    c = s[i]
    if t in (_DIGIT, _DIGIT_OR_ZERO) and "a" <= c <= "z":
        new = _LETTER
    elif t == _LETTER and "0" <= c <= "9":
        new = _DIGIT
    elif t == _SUFFIX and "0" <= c <= "9":
        new = _SUFFIX_NO
    else:
        if c == ".":
            new = _DIGIT_OR_ZERO
        elif c == "_":
            new = _SUFFIX
        elif c == "-" and i + 1 < n and s[i + 1] == "r":
            new = _REVISION_NO
            i += 1
        else:
            return None
        i += 1
    if new < t and not (
        (new == _DIGIT_OR_ZERO and t == _DIGIT)
        or (new == _SUFFIX and t == _SUFFIX_NO)
        or (new == _DIGIT and t == _LETTER)
    ):
        return None
    return new, i


class ApkScheme(VersionScheme):
    name = "apk"

    def parse(self, version: str) -> Key:
        toks = _tokens(version.strip())
        if toks is None or not version.strip()[:1].isdigit():
            raise self.error(version)
        # (rank of the token type, value): equal types compare by value; different types by the rule
        # "a pre-release suffix is lowest, otherwise the higher type is the lower version"
        return tuple((_PRE_RANK if (t == _SUFFIX and v < 0) else -t, v) for t, v in toks)
