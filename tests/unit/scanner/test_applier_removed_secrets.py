"""Secrets of shadowed file versions (applier.removed_secrets) on hand-made layer records: every way a later
layer hides a file (whiteout, opaque directory, parent replaced by a file, overwrite) keeps the secret with
its removal mark; a secret that survives is reported once; other file findings keep merged-view semantics."""

from __future__ import annotations

from containerguard.analyzer.base import AnalysisResult
from containerguard.model import Finding, FindingKind, Layer, Severity
from containerguard.scanner.applier import apply
from containerguard.scanner.walker import LayerRecord

F = ("f", 0o100644, 1, "")
D = ("d", 0o40755, 0, "")
LAYERS = [Layer(index=i, digest=f"sha256:{i:064x}", created_by=f"step {i}") for i in range(4)]


def rec(files: dict, results: dict | None = None, wh: list | None = None, op: list | None = None) -> LayerRecord:
    return LayerRecord(files=files, results=results or {}, whiteouts=wh or [], opaques=op or [])


def secret(path: str, line: int = 1, rule: str = "github-token") -> AnalysisResult:
    return AnalysisResult(findings=[Finding(kind=FindingKind.SECRET, id=rule, title="t", severity=Severity.CRITICAL,
                                            path=path, line=line, match="ghp_****", description=f"t in {path}",
                                            extra={"rule": rule, "offset": 0})])


def setuid(path: str) -> AnalysisResult:
    return AnalysisResult(findings=[Finding(kind=FindingKind.MISCONFIG, id="CG-IMG-005", title="setuid",
                                            severity=Severity.MEDIUM, path=path)])


def marks(records: list[LayerRecord]) -> dict[str, tuple[int | None, int | None, str]]:
    m = apply(records, LAYERS[: len(records)])
    out = {}
    for f in m.findings:
        rm = f.extra.get("removed_in_layer")
        out[f.path] = (f.layer.index if f.layer else None, rm["index"] if rm else None, rm["how"] if rm else "")
    return out


def test_every_way_of_hiding_a_file_keeps_its_secret() -> None:
    got = marks([
        rec({}),
        rec({"a": D, "a/wh": F, "b": D, "b/op": F, "c": D, "c/par": F, "d": F},
            {"a/wh": secret("a/wh"), "b/op": secret("b/op"), "c/par": secret("c/par"), "d": secret("d")}),
        rec({"c": F, "d": F, "b": D}, wh=["a/wh"], op=["b"]),
    ])
    assert got == {"a/wh": (1, 2, "deleted"), "b/op": (1, 2, "deleted"), "c/par": (1, 2, "deleted"),
                   "d": (1, 2, "overwritten")}
    m = apply([rec({"x": F}, {"x": secret("x")}), rec({}, wh=["x"])], LAYERS[:2])
    assert "still extractable from layer 0" in m.findings[0].description
    assert m.findings[0].extra["removed_in_layer"]["created_by"] == "step 1"


def test_surviving_secret_once_and_lowest_shadowed_layer() -> None:
    # chmod copy-up: the same secret at the top is reported there only
    assert marks([rec({"k": F}, {"k": secret("k")}), rec({"k": F}, {"k": secret("k")})]) == {"k": (1, None, "")}
    # the same secret in two shadowed versions: once, at the lowest layer (overwritten by the next)
    assert marks([rec({"k": F}, {"k": secret("k")}), rec({"k": F}, {"k": secret("k")}), rec({}, wh=["k"])]) == {
        "k": (0, 1, "overwritten")}
    # a different secret (another line) in the old version is its own finding
    m = apply([rec({"k": F}, {"k": secret("k", line=3)}), rec({"k": F}, {"k": secret("k")})], LAYERS[:2])
    assert sorted((f.line, "removed_in_layer" in f.extra) for f in m.findings) == [(1, False), (3, True)]


def test_other_file_findings_keep_the_merged_view_and_dir_targets_are_unchanged() -> None:
    assert marks([rec({"s": F}, {"s": setuid("s")}), rec({}, wh=["s"])]) == {}
    m = apply([rec({"x": F}, {"x": secret("x")})], None)
    assert [("removed_in_layer" in f.extra) for f in m.findings] == [False]
