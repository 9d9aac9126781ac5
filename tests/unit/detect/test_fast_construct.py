"""The hot-path builders make objects indistinguishable from the dataclass constructor's, through the layout
twin and through the slot-descriptor fallback alike."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from typing import Any

import pytest

from containerguard.detect.fast_construct import _layout_twin, compile_builder, positional_builder
from containerguard.model import Finding, FindingKind, Layer, Package, Severity


@dataclass(frozen=True, slots=True)
class _Base:
    a: int
    b: str = ""


@dataclass(frozen=True, slots=True)
class _Derived(_Base):  # slots spread over two classes: no layout twin, descriptor fallback
    c: tuple[str, ...] = ()


def test_twin_builder_equals_the_constructor() -> None:
    assert _layout_twin(Package) is not None
    build = positional_builder(Package)
    values = ("openssl", "3.0.11-1~deb12u2", "deb", "pkg:deb/debian/openssl", ("var/lib/dpkg/status",),
              Layer(0, "sha256:a"), "amd64", "openssl", "3.0.11-1~deb12u2", 1, "r1", ("Apache-2.0",), "dpkg",
              {"k": "v"})
    got, want = build(values), Package(*values)
    assert type(got) is Package and got == want and repr(got) == repr(want)
    assert not hasattr(got, "__dict__")
    assert pickle.loads(pickle.dumps(got)) == want
    assert dataclasses.replace(got, name="x") == dataclasses.replace(want, name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.name = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError):
        build(values[:-1])


def test_descriptor_fallback_for_inherited_slots() -> None:
    assert _layout_twin(_Derived) is None
    build = positional_builder(_Derived)
    got = build((1, "x", ("y",)))
    assert type(got) is _Derived and got == _Derived(1, "x", ("y",))
    named = compile_builder(_Derived, ["v"], {"a": "v", "b": "'b'", "c": "()"})
    assert named(5) == _Derived(5, "b", ())


def test_finding_builder_by_name() -> None:
    pkg = Package("a", "1", "pypi")
    exprs = {f.name: "None" for f in dataclasses.fields(Finding)}
    exprs.update(kind="k", id="'CVE-1'", title="'t'", severity="s", package="p", aliases="()", extra="{}")
    build = compile_builder(Finding, ["k", "s", "p"], exprs)
    got = build(FindingKind.VULNERABILITY, Severity.HIGH, pkg)
    assert type(got) is Finding
    rest: dict[str, Any] = {n: None for n in exprs
                            if n not in ("kind", "id", "title", "severity", "package", "aliases", "extra")}
    assert got == Finding(FindingKind.VULNERABILITY, "CVE-1", "t", Severity.HIGH, package=pkg, aliases=(), extra={},
                          **rest)
