"""Every public class, function and method of the image pipeline (scanner/) and of the domain model
(model.py) says what it is: a newcomer reads the pipeline from its docstrings."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "containerguard"
DOCUMENTED = [SRC / "model.py", *sorted((SRC / "scanner").glob("*.py"))]


def _public_undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name.startswith("_"):
                    continue
                if ast.get_docstring(node) is None:
                    missing.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return missing


def test_public_names_have_docstrings() -> None:
    missing = [m for p in DOCUMENTED for m in _public_undocumented(p)]
    assert not missing, "public names without a docstring:\n" + "\n".join(missing)
