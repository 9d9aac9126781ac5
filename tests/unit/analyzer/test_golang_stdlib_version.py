"""The Go standard library's version from a binary's toolchain name, as the Go vulnerability database writes it."""

from containerguard.analyzer.golang import stdlib_version
from containerguard.versioning import compare


def test_toolchain_names() -> None:
    assert stdlib_version("go1.19.8") == "v1.19.8"
    assert stdlib_version("go1.21.0 X:boringcrypto") == "v1.21.0"
    assert stdlib_version("go1.20") == "v1.20"
    assert stdlib_version("go1.21rc2") == "v1.21.0-rc.2"
    assert stdlib_version("go1.9beta2") == "v1.9.0-beta.2"
    assert stdlib_version("devel go1.22-abcdef") == ""
    assert compare("Go", stdlib_version("go1.20rc1"), "1.20.0") == -1
    assert compare("Go", stdlib_version("go1.20rc1"), "1.20.0-0") == 1
