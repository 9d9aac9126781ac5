"""Python package versions (PEP 440), parsed by ``packaging`` (the reference implementation pip uses).

The key is a plain tuple built from the parsed ``Version`` in the same shape as packaging's own
comparison key, so comparing two keys is a native tuple comparison.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from containerguard.versioning.base import Key, VersionScheme


def pep440_key(v: Version) -> Key:
    release = list(v.release)
    while release and release[-1] == 0:
        release.pop()
    # pre: a dev-only release (1.0.dev0) sorts before any pre-release of it; no pre sorts after all
    if v.pre is None and v.post is None and v.dev is not None:
        pre: Key = (-1,)
    elif v.pre is None:
        pre = (1,)
    else:
        pre = (0, v.pre[0], v.pre[1])
    post: Key = (-1,) if v.post is None else (0, v.post)
    dev: Key = (1,) if v.dev is None else (0, v.dev)
    if v.local is None:
        local: Key = (0,)
    else:
        local = (1, tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower()) for p in v.local.split(".")))
    return (v.epoch, tuple(release), pre, post, dev, local)


class Pep440Scheme(VersionScheme):
    name = "pep440"

    def parse(self, version: str) -> Key:
        try:
            v = Version(version)
        except InvalidVersion:
            raise self.error(version) from None
        return pep440_key(v)
