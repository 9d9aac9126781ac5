"""--skip-dirs/--skip-files patterns: Trivy-style globs anchored at the image root, hostile ones refused."""

from __future__ import annotations

import pytest

from containerguard.errors import UsageError
from containerguard.scanner.cache import layer_key
from containerguard.scanner.skip import SkipPaths


def test_dir_patterns_skip_everything_below() -> None:
    s = SkipPaths.parse(["usr/lib/node_modules", "**/testdata,opt/*/cache"])
    assert s.file("usr/lib/node_modules/lodash/package.json")
    assert s.dir("usr/lib/node_modules") and s.dir("usr/lib/node_modules/x")
    assert not s.file("usr/lib/node_modules")  # a file of that name is not a directory
    assert not s.file("usr/lib/node_modules2/a")  # whole segments only
    assert not s.file("srv/usr/lib/node_modules/a")  # anchored at the root
    assert s.file("testdata/a") and s.file("a/b/testdata/c/d")
    assert s.file("opt/app/cache/x") and not s.file("opt/app/sub/cache/x")  # * stays in one segment


def test_file_patterns_and_double_star() -> None:
    s = SkipPaths.parse(files=["app/*.pem", "**/*.key", "etc/ssl/**"])
    assert s.file("app/server.pem") and not s.file("app/sub/server.pem")
    assert s.file("root.key") and s.file("a/b/c.key")
    assert s.file("etc/ssl/private/x") and s.file("etc/ssl") and not s.file("etc/ssl2")  # a/** matches a too
    assert not s.file("app/server.pem.bak")
    classes = SkipPaths.parse(files=["f[0-9].txt", "g[!a].txt", "h?.txt"])
    assert classes.file("f1.txt") and not classes.file("fa.txt")
    assert classes.file("gb.txt") and not classes.file("ga.txt") and not classes.file("g/.txt")
    assert classes.file("h1.txt") and not classes.file("h/.txt")


def test_leading_dot_slash_and_trailing_slash_normalised() -> None:
    s = SkipPaths.parse(["./vendor/", "a//b"])
    assert s.dirs == ("vendor", "a/b")
    assert s.file("vendor/x") and s.file("a/b/c")


@pytest.mark.parametrize("bad", ["", " ", "a,,b", "..", "a/../b", "../x", "/", ".", "./", "a\x00b"])
def test_hostile_patterns_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as exc:
        SkipPaths.parse([bad])
    assert "\n" not in str(exc.value) and "--skip-dirs" in str(exc.value)
    with pytest.raises(UsageError, match="--skip-files"):
        SkipPaths.parse(files=[bad])


def test_cache_key_includes_the_skip_set_and_is_unchanged_without_one() -> None:
    ids = [("python", 1)]
    plain = layer_key("sha256:1", ids)
    assert layer_key("sha256:1", ids, skip=SkipPaths().key) == plain
    a = SkipPaths.parse(["opt"]).key
    b = SkipPaths.parse(files=["opt"]).key
    assert len({plain, layer_key("sha256:1", ids, skip=a), layer_key("sha256:1", ids, skip=b)}) == 3
    # the order the patterns were given in does not matter
    assert SkipPaths.parse(["a", "b"]).key == SkipPaths.parse(["b,a"]).key


def test_a_leading_slash_means_the_root_of_the_image_or_directory() -> None:
    """Trivy users write image paths absolute (``--skip-dirs /usr/lib``): the same as ``usr/lib``."""
    assert SkipPaths.parse(dirs=["/usr/lib"]) == SkipPaths.parse(dirs=["usr/lib"])
    s = SkipPaths.parse(dirs=["/usr/lib"], files=["/app/*.pem"])
    assert s.file("usr/lib/node_modules/a") and s.file("app/key.pem")
    assert not s.file("srv/usr/lib/a") and not s.file("app/sub/key.pem")
