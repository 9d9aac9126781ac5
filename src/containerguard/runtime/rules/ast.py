"""The condition AST: what the parser produces and the compiler consumes. Immutable, shareable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field with its optional ``[arg]`` and the transformers applied to it, innermost first."""

    name: str  # catalog name (proc.aname, evt.arg, jevt.value, ...)
    arg: str | None = None
    xforms: tuple[str, ...] = ()
    pos: int = 0

    @property
    def text(self) -> str:
        """The field as written in the rule (with its argument and transformers)."""
        base = f"{self.name}[{self.arg}]" if self.arg is not None else self.name
        for x in self.xforms:
            base = f"{x}({base})"
        return base


@dataclass(frozen=True, slots=True)
class Cmp:
    """``lhs OP rhs``; rhs is None for ``exists``, a str for one value, a tuple for lists, a FieldRef for val()."""

    lhs: FieldRef
    op: str
    rhs: str | tuple[str, ...] | FieldRef | None
    pos: int = 0


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold."""
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` holds."""
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``item`` does not hold."""
    item: Node


@dataclass(frozen=True, slots=True)
class MacroRef:
    """A macro used by name, replaced by its condition when the rules load."""
    name: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value (folded conditions)."""
    value: bool


Node = Cmp | And | Or | Not | MacroRef | Const


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, And | Or):
            stack.extend(reversed(n.items))
        elif isinstance(n, Not):
            stack.append(n.item)
    return out


def field_refs(node: Node) -> list[FieldRef]:
    """All fields a tree reads (left-hand sides and val() arguments)."""
    refs: list[FieldRef] = []
    for n in walk(node):
        if isinstance(n, Cmp):
            refs.append(n.lhs)
            if isinstance(n.rhs, FieldRef):
                refs.append(n.rhs)
    return refs
