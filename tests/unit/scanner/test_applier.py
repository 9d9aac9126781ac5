"""The applier's merge rules on hand-made layer records (pure logic)."""

from __future__ import annotations

from containerguard.analyzer.base import AnalysisResult
from containerguard.model import Layer, OSInfo, Package
from containerguard.scanner.applier import apply, merge_files, resolve
from containerguard.scanner.walker import LayerRecord

F = ("f", 0o100644, 1, "")
D = ("d", 0o40755, 0, "")


def L(i: int) -> Layer:
    return Layer(index=i, digest=f"sha256:{i:064x}", created_by=f"step {i}")


def rec(files: dict, results: dict | None = None, wh: list | None = None, op: list | None = None) -> LayerRecord:
    return LayerRecord(files=files, results=results or {}, whiteouts=wh or [], opaques=op or [])


def pkgs(*nv: tuple[str, str]) -> AnalysisResult:
    return AnalysisResult(packages=[Package(name=n, version=v, type="deb") for n, v in nv])


def test_later_layers_win_and_whiteouts_delete_subtrees() -> None:
    files, _ = merge_files([
        rec({"a": D, "a/x": F, "a/y": F, "b": F, "c": D, "c/old": F}),
        rec({"a/y": ("f", 0o100600, 9, "")}, wh=["b"], op=["c"]),
        rec({"c/new": F}, wh=["a"]),
    ])
    assert sorted(files) == ["c", "c/new"]  # the opaque directory itself stays
    files, _ = merge_files([rec({"a": D, "a/x": F, "c": D, "c/old": F}), rec({"c": D, "c/mine": F}, op=["c"])])
    assert sorted(files) == ["a", "a/x", "c", "c/mine"]  # the opaque dir keeps its own layer's entries


def test_file_replacing_directory_hides_lower_subtree() -> None:
    files, _ = merge_files([rec({"d": D, "d/x": F}), rec({"d": ("l", 0o120777, 0, "elsewhere")})])
    assert sorted(files) == ["d"] and files["d"].kind == "l"


def test_package_attribution_follows_the_package_not_the_file() -> None:
    status = "var/lib/dpkg/status"
    layers = [L(0), L(1), L(2)]
    m = apply([
        rec({status: F}, {status: pkgs(("libc6", "2.36"), ("bash", "5.2"))}),
        rec({status: F}, {status: pkgs(("libc6", "2.36"), ("bash", "5.2"), ("curl", "7.88"))}),
        rec({status: F}, {status: pkgs(("libc6", "2.36"), ("curl", "7.88"), ("bash", "5.3"))}),  # bash upgraded
    ], layers)
    by = {p.name: (p.version, p.layer.index if p.layer else None, p.locations) for p in m.packages}
    assert by == {"libc6": ("2.36", 0, (status,)), "curl": ("7.88", 1, (status,)), "bash": ("5.3", 2, (status,))}


def test_attribution_restarts_after_a_deletion() -> None:
    p = "usr/lib/python3/x.dist-info/METADATA"
    m = apply([rec({p: F}, {p: pkgs(("x", "1"))}), rec({}, wh=[p]), rec({p: F}, {p: pkgs(("x", "1"))})],
              [L(0), L(1), L(2)])
    assert [(q.name, q.layer.index) for q in m.packages if q.layer] == [("x", 2)]


def test_os_highest_priority_surviving_and_unknown_default() -> None:
    a = AnalysisResult(os=OSInfo(family="debian", version="12"), os_priority=10)
    b = AnalysisResult(os=OSInfo(family="ubuntu", version="22.04"), os_priority=20)
    m = apply([rec({"etc/debian_version": F, "etc/os-release": F}, {"etc/debian_version": a, "etc/os-release": b})],
              [L(0)])
    assert m.os.family == "ubuntu"
    m = apply([rec({"etc/os-release": F}, {"etc/os-release": b}), rec({}, wh=["etc/os-release"])], [L(0), L(1)])
    assert m.os.family == "unknown" and not m.os.known


def test_resolve_stays_inside_the_root() -> None:
    files, _ = merge_files([rec({
        "etc": D, "usr": D, "usr/lib": D, "usr/lib/os-release": F,
        "etc/os-release": ("l", 0o120777, 0, "../usr/lib/os-release"),
        "etc/abs": ("l", 0o120777, 0, "/usr/lib/os-release"),
        "etc/climb": ("l", 0o120777, 0, "../../../../../usr/lib/os-release"),
        "lib": ("l", 0o120777, 0, "usr/lib"),
        "loop1": ("l", 0o120777, 0, "loop2"), "loop2": ("l", 0o120777, 0, "loop1"),
    })])
    assert resolve(files, "etc/os-release") == "usr/lib/os-release"
    assert resolve(files, "etc/abs") == "usr/lib/os-release"
    assert resolve(files, "etc/climb") == "usr/lib/os-release"
    assert resolve(files, "lib/os-release") == "usr/lib/os-release"
    assert resolve(files, "loop1") is None


def test_wanted_links_become_requests() -> None:
    m = apply([rec({"usr/lib/os-release": F}),
               LayerRecord(files={"etc/os-release": ("l", 0o120777, 0, "../usr/lib/os-release")}, links=["etc/os-release"])],
              [L(0), L(1)])
    assert [(r.path, r.layer, r.source, r.source_layer) for r in m.links] == [("etc/os-release", 1, "usr/lib/os-release", 0)]
