"""Every built-in analyzer on arbitrary bytes: a result or an AnalyzerError, never another exception.
Hypothesis with a fixed budget; the byte strings are mutations of valid files so parsers get deep."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containerguard.analyzer.base import Analyzer
from containerguard.analyzer.plugins import builtin_analyzers
from containerguard.errors import AnalyzerError


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("META-INF/maven/g/a/pom.properties", "groupId=g\nartifactId=a\nversion=1\n")
        zf.writestr("EGG-INFO/PKG-INFO", "Name: x\nVersion: 1\n")
    return buf.getvalue()


SEEDS: dict[str, bytes] = {
    "etc/os-release": b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian"\n',
    "etc/redhat-release": b"Rocky Linux release 9.3 (Blue Onyx)\n",
    "var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2)\n\n",
    "lib/apk/db/installed": b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n",
    "var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\x00" + bytes(84),
    "x/a-1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: a\nVersion: 1\n",
    "x/a.egg": _zip(),
    "app/node_modules/a/package.json": json.dumps({"name": "a", "version": "1", "license": {"type": "MIT"}}).encode(),
    "opt/a.jar": _zip(),
    "gems/specifications/a-1.gemspec": b's.name = "a"\ns.version = "1"\n',
    "vendor/composer/installed.json": b'{"packages": [{"name": "a/b", "version": "1"}]}',
    "usr/bin/tool": b"\x7fELF\x02\x01\x01" + bytes(57),
    "usr/bin/true": Path("/bin/true").read_bytes(),  # a real ELF: headers, sections, segments
    "src/package-lock.json": b'{"lockfileVersion": 1, "dependencies": {"a": {"version": "1"}}}',
    "src/yarn.lock": b'a@^1:\n  version "1.0.0"\n',
    "src/pnpm-lock.yaml": b"lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dev: false\n",
    "src/go.mod": b"module m\nrequire (\n\ta v1\n)\nreplace a => b v2\n",
    "src/Cargo.lock": b'[[package]]\nname = "a"\nversion = "1"\n',
    "src/poetry.lock": b'[[package]]\nname = "a"\nversion = "1"\n',
    "src/Gemfile.lock": b"GEM\n  specs:\n    a (1)\n",
    "src/requirements.txt": b"a==1\n",
}

ANALYZERS: list[Analyzer] = builtin_analyzers(lockfiles=True)


def _mutate(seed: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, pos, chunk in ops:
        p = pos % (len(data) + 1)
        if kind == 0:
            data[p:p] = chunk
        elif kind == 1:
            del data[p:p + len(chunk)]
        else:
            data[p:p + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(path=st.sampled_from(sorted(SEEDS)),
       ops=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=8)),
                    max_size=6))
def test_mutated_files_never_raise_unexpected(path: str, ops: list[tuple[int, int, bytes]]) -> None:
    data = _mutate(SEEDS[path], ops)
    wanted = [a for a in ANALYZERS if a.required(path, 0o100755)]
    assert wanted
    for a in wanted:
        try:
            result = run(a, path, data, 0o100755)
        except AnalyzerError as exc:
            assert str(exc)
            continue
        for p in result.packages:
            assert p.name and p.purl.startswith("pkg:")
            assert p.locations == (path,)


TRUE = Path("/bin/true").read_bytes()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(ops=st.lists(st.tuples(st.just(2), st.one_of(st.integers(0, 64), st.integers(len(TRUE) - 4096, len(TRUE))),
                              st.binary(min_size=1, max_size=8)), min_size=1, max_size=4))
def test_elf_with_broken_headers(ops: list[tuple[int, int, bytes]]) -> None:
    """Corrupt ELF header / section and program header tables (where the parsers look) give no exception."""
    data = _mutate(TRUE, ops)
    for a in ANALYZERS:
        if a.required("usr/bin/true", 0o100755):
            run(a, "usr/bin/true", data, 0o100755)
