"""Both Go build info layouts, decoded from blobs laid out as the Go linker lays them out."""

from __future__ import annotations

import pytest

from containerguard.analyzer.golang import (
    MAGIC,
    BuildInfoError,
    decode_buildinfo,
    parse_modinfo,
    stdlib_version,
)

SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")
MODINFO = ("path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
           "dep\tgolang.org/x/net\tv0.7.0\th1:abc=\n"
           "dep\tgithub.com/old/lib\tv1.0.0\n=>\tgithub.com/new/lib\tv1.2.0\th1:def=\n"
           "dep\tgithub.com/local/lib\tv0.1.0\n=>\t../lib\t\n"
           "build\t-compiler=gc\nbuild\tGOOS=linux\n")


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def test_inline_layout() -> None:
    mod = SENTINEL_START + MODINFO.encode() + SENTINEL_END
    blob = MAGIC + bytes([8, 0x2]) + bytes(16) + _uvarint(9) + b"go1.21.13" + _uvarint(len(mod)) + mod
    version, text = decode_buildinfo(blob)
    assert version == "go1.21.13"
    assert text == MODINFO
    path, main, deps, settings = parse_modinfo(text)
    assert path == "example.com/app" and main is not None and main.version == "(devel)"
    assert [(d.path, d.version, d.replace.path if d.replace else None) for d in deps] == [
        ("golang.org/x/net", "v0.7.0", None), ("github.com/old/lib", "v1.0.0", "github.com/new/lib"),
        ("github.com/local/lib", "v0.1.0", "../lib")]
    assert settings["GOOS"] == "linux"


@pytest.mark.parametrize(("ptr", "big"), [(8, False), (4, False), (8, True), (4, True)])
def test_pointer_layout(ptr: int, big: bool) -> None:
    order = "big" if big else "little"
    memory: dict[int, bytes] = {}
    version, mod = b"go1.16.15", SENTINEL_START + MODINFO.encode() + SENTINEL_END
    memory[0x5000] = version
    memory[0x6000] = mod
    memory[0x1000] = (0x5000).to_bytes(ptr, order) + len(version).to_bytes(ptr, order)
    memory[0x2000] = (0x6000).to_bytes(ptr, order) + len(mod).to_bytes(ptr, order)

    def read_va(addr: int, size: int) -> bytes:
        data = memory[addr]
        assert len(data) >= size
        return data[:size]

    blob = MAGIC + bytes([ptr, 0x1 if big else 0]) + (0x1000).to_bytes(ptr, order) + (0x2000).to_bytes(ptr, order)
    blob += bytes(32 - len(blob))
    assert decode_buildinfo(blob, read_va) == ("go1.16.15", MODINFO)


def test_truncated_and_hostile_blobs() -> None:
    with pytest.raises(BuildInfoError):
        decode_buildinfo(MAGIC + b"\x08\x02")
    with pytest.raises(BuildInfoError):  # length says 2**40
        decode_buildinfo(MAGIC + bytes([8, 2]) + bytes(16) + _uvarint(1 << 40) + b"x")
    with pytest.raises(BuildInfoError):  # varint never ends
        decode_buildinfo(MAGIC + bytes([8, 2]) + bytes(16) + b"\xff" * 20)
    with pytest.raises(BuildInfoError):  # pointer layout without a way to read memory
        decode_buildinfo(MAGIC + bytes([8, 0]) + bytes(16))


def test_stdlib_version() -> None:
    assert stdlib_version("go1.19.8") == "v1.19.8"
    assert stdlib_version("go1.21.0 X:boringcrypto") == "v1.21.0"
    assert stdlib_version("go1.22") == "v1.22"
    assert stdlib_version("devel go1.23-abc") == ""
