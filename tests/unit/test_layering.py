"""The package layers of docs/architecture.md, enforced: an import that points up (a back-edge) fails.

Every ``import containerguard.X`` / ``from containerguard.X import ...`` in ``src/containerguard`` is read
from the AST (top-level, function-local and ``TYPE_CHECKING`` imports alike: a lazy import is still a
dependency). A module may import its own package and any package of a LOWER layer; a package of the same
layer only when the pair is listed in ``SIDEWAYS`` with its reason; never a higher layer. A top-level
package or module that no layer names fails too, so a new package has to be placed before it lands.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "containerguard"

#: top to bottom; keep in step with the drawing in docs/architecture.md
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"cli", "server"}),                               # entry points: parse, call, print
    frozenset({"scanner", "policy", "runtime"}),                # pipelines: image scan, policies, agent
    frozenset({"report", "filters", "detect", "misconfig", "cis"}),  # stages over the domain model
    frozenset({"analyzer", "artifact", "vulndb"}),              # file formats, image sources, vuln data
    frozenset({"secrets", "versioning"}),                       # leaf engines
    frozenset({"model", "purl", "yamlsafe", "spool", "tls", "inputfile", "egress"}),  # the domain, bottom-layer helpers
    frozenset({"errors", "ecosystems", "__init__"}),            # the exception tree, the ecosystem table, the version
)

#: same-layer imports that are allowed, each with its reason
SIDEWAYS: dict[tuple[str, str], str] = {
    ("cli", "server"): "`containerguard server` starts the server the server package builds",
    ("cis", "misconfig"): "the CIS checks' metadata lives in the one misconfiguration check catalog",
    ("spool", "tls"): "the spool's HTTPS client trusts what every client of the package trusts",
}


def _layer_of() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, names in enumerate(LAYERS):
        for n in names:
            assert n not in out, f"{n} is in two layers"
            out[n] = i
    return out


def _top_level(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, top-level containerguard package) for every import of the package in ``path`` (or in
    ``text``, read as if it were the module at ``path``)."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text, filename=str(path))
    pkg_parts = ["containerguard", *path.relative_to(SRC).parts[:-1]]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                names = [".".join([*base, node.module])] if node.module else [".".join([*base, a.name]) for a in node.names]
            elif node.module == "containerguard":
                names = [f"containerguard.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "containerguard" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def _violations(path: Path, text: str | None = None) -> list[str]:
    """One line per import of ``path`` that breaks the layers."""
    layer = _layer_of()
    src = _top_level(path)
    if src not in layer:
        return []  # reported by test_every_package_has_a_layer
    rel = path.relative_to(SRC.parent)
    bad: list[str] = []
    for line, dst in _imported(path, text):
        if dst == src or dst not in layer:
            continue
        if layer[dst] < layer[src]:
            bad.append(f"{rel}:{line}: {src} (layer {layer[src]}) imports {dst} (layer {layer[dst]}, above it)")
        elif layer[dst] == layer[src] and (src, dst) not in SIDEWAYS:
            bad.append(f"{rel}:{line}: {src} imports {dst}, a package of its own layer (not in SIDEWAYS)")
    return bad


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_has_a_layer() -> None:
    layer = _layer_of()
    unplaced = sorted({_top_level(p) for p in _modules()} - set(layer))
    assert not unplaced, (f"top-level packages/modules with no layer: {unplaced}; "
                          "place them in LAYERS here and in docs/architecture.md")


def test_imports_only_point_down() -> None:
    bad = [v for path in _modules() for v in _violations(path)]
    assert not bad, "imports against the layers of docs/architecture.md:\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "expect_bad"), [
    ("from containerguard.scanner import scan_target\n", True),            # misconfig -> scanner: up
    ("def f():\n    from containerguard.scanner.walker import x\n", True),  # lazy imports count too
    ("from containerguard import report\n", True),                          # report is misconfig's own layer
    ("from ..runtime import agent\n", True),                                 # relative imports resolve
    ("from containerguard.analyzer.base import Analyzer\n", False),         # down
    ("from . import catalog\nfrom containerguard.model import Finding\n", False),
])
def test_the_check_catches_a_back_edge(source: str, expect_bad: bool) -> None:
    """The checker itself: a module in misconfig/ that imports upward or sideways is reported."""
    probe = SRC / "misconfig" / "_layering_probe.py"  # read from ``source``, never written
    assert bool(_violations(probe, source)) is expect_bad
