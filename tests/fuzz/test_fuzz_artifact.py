"""Fuzzing the tar reader and the manifest/config parsers with hypothesis (fixed budget).

The property: whatever the bytes, the reader returns a result or raises a ContainerGuardError subclass
(ArchiveError, ArtifactError, DigestMismatchError); never another exception, never a hang.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tarfile
from typing import ClassVar

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput
from containerguard.artifact.manifest import Index as ManifestIndex
from containerguard.artifact.manifest import (
    parse_config,
    parse_manifest,
    pick_from_layout_index,
    select_platform,
)
from containerguard.artifact.stream import decompressed
from containerguard.errors import ContainerGuardError
from containerguard.scanner.walker import walk_tar_layer

BUDGET = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=True)


class ReadAll(Analyzer):
    type: ClassVar[str] = "readall"
    version: ClassVar[int] = 1

    def required(self, path: str, mode: int) -> bool:
        return True

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        inp.stream.read()
        return AnalysisResult()


names = st.one_of(
    st.text(alphabet="abc./\\-_\0 ", min_size=0, max_size=30),
    st.sampled_from(["../x", "/etc/passwd", "a/../../b", ".wh..wh..opq", "d/.wh.f", ".wh.", "./", "a//b", ""]),
)
kinds = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                         tarfile.FIFOTYPE, b"Z"])
entries = st.lists(st.tuples(names, kinds, names, st.binary(max_size=600)), max_size=12)


def build_tar(items: list[tuple[str, bytes, str, bytes]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, link, data in items:
            ti = tarfile.TarInfo(name or "x")
            ti.type = kind
            ti.linkname = link
            if kind == tarfile.REGTYPE:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def walk(blob: bytes) -> None:
    with contextlib.suppress(ContainerGuardError):
        walk_tar_layer(decompressed(io.BytesIO(blob), "fuzz"), [ReadAll()])


@BUDGET
@given(entries, st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6), st.integers(0, 12_000),
       st.sampled_from(["none", "gzip", "zstd"]))
def test_tar_reader_survives_mutated_archives(items, fmt, flips, cut, how) -> None:
    try:
        raw = build_tar(items, fmt)
    except (ValueError, UnicodeError, tarfile.TarError):
        return  # tarfile itself refuses to write this header
    data = bytearray(raw)
    for pos, val in flips:
        if data:
            data[pos % len(data)] = val
    data = bytes(data[: cut or None])
    if how == "gzip":
        data = gzip.compress(data)
    elif how == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    walk(data)


@BUDGET
@given(st.binary(max_size=3000))
def test_tar_reader_survives_random_bytes(blob: bytes) -> None:
    walk(blob)
    walk(b"\x1f\x8b" + blob)
    walk(b"\x28\xb5\x2f\xfd" + blob)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
digest = st.sampled_from(["sha256:" + "a" * 64, "sha256:zz", "md5:00", "", "sha512:" + "b" * 128])
descriptor = st.fixed_dictionaries({"digest": digest, "size": st.one_of(st.integers(-3, 2**40), st.text(max_size=3))},
                                   optional={"mediaType": st.text(max_size=10), "annotations": json_values,
                                             "platform": st.one_of(json_values, st.fixed_dictionaries(
                                                 {"os": st.sampled_from(["linux", "windows"]),
                                                  "architecture": st.sampled_from(["amd64", "arm64", "unknown"])}))})
manifestish = st.fixed_dictionaries({}, optional={
    "schemaVersion": st.sampled_from([2, 1, "2", None]),
    "mediaType": st.sampled_from(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                                  "application/vnd.docker.distribution.manifest.v2+json", "text/plain", 5]),
    "manifests": st.one_of(st.lists(descriptor, max_size=4), json_values),
    "layers": st.one_of(st.lists(descriptor, max_size=4), json_values),
    "config": st.one_of(descriptor, json_values),
    "rootfs": st.one_of(json_values, st.fixed_dictionaries({"diff_ids": st.lists(digest, max_size=3)})),
    "history": json_values,
})


@BUDGET
@given(st.one_of(manifestish, json_values), st.sampled_from(["linux/amd64", "linux/arm64/v8", "bad"]),
       st.one_of(st.none(), st.text(max_size=5)))
def test_manifest_parsers_raise_only_artifact_errors(obj, platform: str, tag) -> None:
    data = json.dumps(obj).encode()
    for parse in (parse_manifest, parse_config):
        try:
            out = parse(data)
        except ContainerGuardError:
            continue
        if isinstance(out, ManifestIndex):
            for pick in (lambda: select_platform(out, platform), lambda: pick_from_layout_index(out, tag, platform, "x")):
                with contextlib.suppress(ContainerGuardError):
                    pick()


@BUDGET
@given(st.binary(max_size=500))
def test_manifest_parsers_on_random_bytes(blob: bytes) -> None:
    for parse in (parse_manifest, parse_config):
        with contextlib.suppress(ContainerGuardError):
            parse(blob)
