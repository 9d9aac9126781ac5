"""The upper-layer check looks at the container's file itself: a symbolic link in the upper layer is no regular
file there, and its target (a path in the container; an absolute one names the host's file) is not followed."""

from __future__ import annotations

import os
from pathlib import Path

from containerguard.runtime.process import in_upper_layer


def test_a_link_in_the_upper_layer_is_not_followed_on_the_host(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "tmp").mkdir(parents=True)
    os.symlink("/usr/bin/env", upper / "tmp" / "abs")  # on the host this names a real file
    os.symlink("../usr/bin/env", upper / "tmp" / "rel")
    (upper / "tmp" / "dropped").write_bytes(b"\x7fELF")
    assert not in_upper_layer(str(upper), "/tmp/abs")
    assert not in_upper_layer(str(upper), "/tmp/rel")
    assert in_upper_layer(str(upper), "/tmp/dropped")
    assert not in_upper_layer(str(upper), "/tmp/missing")
    assert not in_upper_layer(str(upper), "/tmp\x00x")  # a NUL in a recorded path: no error
    (upper / "dir").mkdir()
    assert not in_upper_layer(str(upper), "/dir")
