"""Property tests: keys order totally and consistently, and the tuple encodings of dpkg, rpm and apk
give exactly the answers of a direct, character-by-character transcription of each tool's C loop."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from containerguard.errors import VersionError
from containerguard.versioning import SCHEMES, get_scheme
from containerguard.versioning.base import VersionScheme

# --------------------------------------------------------------------------- reference comparators


def dpkg_order(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256 if c else 0


def dpkg_verrevcmp(a: str, b: str) -> int:
    """dpkg's lib/dpkg/version.c verrevcmp, step by step."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = dpkg_order(a[i]) if i < len(a) else 0
            bc = dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def rpmvercmp(a: str, b: str) -> int:
    """rpm's rpmio/rpmvercmp.c, step by step."""
    if a == b:
        return 0

    def alnum(c: str) -> bool:
        return c.isascii() and c.isalnum()

    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        si, sj = i, j
        if ca.isdigit():
            while i < len(a) and a[i].isdigit():
                i += 1
            while j < len(b) and b[j].isdigit():
                j += 1
            isnum = True
        else:
            while i < len(a) and a[i].isascii() and a[i].isalpha():
                i += 1
            while j < len(b) and b[j].isascii() and b[j].isalpha():
                j += 1
            isnum = False
        if sj == j:
            return 1 if isnum else -1
        x, y = a[si:i], b[sj:j]
        if isnum:
            x, y = x.lstrip("0"), y.lstrip("0")
            if len(x) != len(y):
                return 1 if len(x) > len(y) else -1
        if x != y:
            return 1 if x > y else -1
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


# --------------------------------------------------------------------------- strategies

dpkg_part = st.text(alphabet="0123456789.+~ab", min_size=1, max_size=8).map(lambda s: "1" + s)
dpkg_version = st.builds(
    lambda e, u, r: (f"{e}:" if e is not None else "") + u + (f"-{r}" if r else ""),
    st.one_of(st.none(), st.integers(0, 3)),
    dpkg_part,
    st.one_of(st.none(), st.text(alphabet="0123456789.+~ab", min_size=1, max_size=6)),
)
rpm_text = st.text(alphabet="0123456789.~^_+abAB", min_size=1, max_size=10)
apk_version = st.text(alphabet="0123456789._-rabp", min_size=1, max_size=12).map(lambda s: "1" + s)


@given(dpkg_version, dpkg_version)
@settings(max_examples=1000, deadline=None)
def test_dpkg_key_matches_verrevcmp(a: str, b: str) -> None:
    s = get_scheme("dpkg")

    def ref(x: str, y: str) -> int:
        ex, _, rx = x.partition(":") if ":" in x else ("0", "", x)
        ey, _, ry = y.partition(":") if ":" in y else ("0", "", y)
        if int(ex) != int(ey):
            return sign(int(ex) - int(ey))
        ux, _, vx = rx.rpartition("-") if "-" in rx else (rx, "", "")
        uy, _, vy = ry.rpartition("-") if "-" in ry else (ry, "", "")
        return sign(dpkg_verrevcmp(ux, uy)) or sign(dpkg_verrevcmp(vx, vy))

    assert s.compare(a, b) == ref(a, b)


@given(rpm_text, rpm_text)
@settings(max_examples=1000, deadline=None)
def test_rpm_key_matches_rpmvercmp(a: str, b: str) -> None:
    from containerguard.versioning.rpm import rpmvercmp_key

    ka, kb = rpmvercmp_key(a), rpmvercmp_key(b)
    assert sign((ka > kb) - (ka < kb)) == rpmvercmp(a, b)


def apk_reference(a: str, b: str) -> int:
    """apk-tools' comparison loop over the token streams (the tokenizer is shared with the scheme)."""
    from containerguard.versioning.apk import _SUFFIX, _tokens

    ta, tb = _tokens(a), _tokens(b)
    assert ta is not None and tb is not None
    i = 0
    while True:
        (at, av), (bt, bv) = ta[i], tb[i]
        if at != bt:
            break  # the types of the next tokens differ
        if av != bv:
            return -1 if av < bv else 1
        if i + 1 >= len(ta) or i + 1 >= len(tb):
            return 0  # both ended
        i += 1
    if at == _SUFFIX and av < 0:
        return -1
    if bt == _SUFFIX and bv < 0:
        return 1
    return -1 if at > bt else 1


@given(apk_version, apk_version)
@settings(max_examples=1000, deadline=None)
def test_apk_key_matches_the_comparison_loop(a: str, b: str) -> None:
    s = get_scheme("apk")
    if not (s.valid(a) and s.valid(b)):
        return
    assert s.compare(a, b) == apk_reference(a, b)


# --------------------------------------------------------------------------- generic properties

ANY_TEXT = st.one_of(
    st.text(alphabet="0123456789.-+~^_:abcdeprvABC", min_size=1, max_size=14),
    st.from_regex(
        r"v?\d{1,3}(\.\d{1,3}){0,3}([-._~+]?(alpha|beta|rc|pre|p|sp|ga|final|dev|SNAPSHOT|RELEASE)(\.?\d{1,2})?)?"
        r"(\+build\.\d)?(-r\d)?",
        fullmatch=True,
    ),
)


def _valid_sample(scheme: VersionScheme, items: list[str]) -> list[str]:
    return [x for x in items if scheme.valid(x)]


@given(st.lists(ANY_TEXT, min_size=3, max_size=12))
@settings(max_examples=100, deadline=None)
def test_total_order_properties(items: list[str]) -> None:
    for scheme in SCHEMES:
        vs = _valid_sample(scheme, items)
        for a, b in itertools.product(vs, repeat=2):
            c = scheme.compare(a, b)  # never a TypeError between two keys of one scheme
            assert c == -scheme.compare(b, a)  # antisymmetry
            assert (c == 0) == (scheme.key(a) == scheme.key(b))  # key/compare consistency
            if c == 0:
                assert hash(scheme.key(a)) == hash(scheme.key(b))
        for a, b, c in itertools.permutations(vs, 3):  # transitivity
            if scheme.compare(a, b) <= 0 and scheme.compare(b, c) <= 0:
                assert scheme.compare(a, c) <= 0
        ordered = scheme.sort(vs)
        assert all(scheme.compare(x, y) <= 0 for x, y in itertools.pairwise(ordered))


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_parse_never_fails_with_anything_but_version_error(text: str) -> None:
    for scheme in SCHEMES:
        with contextlib.suppress(VersionError):
            scheme.key(text)
