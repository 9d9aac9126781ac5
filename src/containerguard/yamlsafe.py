"""The one hardened YAML loader. Every YAML ContainerGuard reads goes through here: ignore files, secret
rules, check catalogs, Falco rules files, pnpm lockfiles and Kubernetes manifests.

What every load gets:

* a size cap (``max_bytes``), checked before any parsing;
* libyaml (PyYAML's C parser) when PyYAML was built with it, the pure-Python parser otherwise;
* no Python object tags: only the safe constructors (``SafeLoader``/``CSafeLoader``) or the caller's own
  subclass of them;
* no alias bombs: either aliases are refused outright (``aliases=False``: files that have no use for them,
  such as ignore files) or the document's alias-expanded node count is computed, without expanding, and
  refused above ``max_nodes`` (the default: real manifests and lockfiles do use anchors);
* a nesting cap (``max_depth``);
* one error shape: ``<source>:<line>: invalid YAML: <problem>``, raised as the caller's error class (each
  stage has its own, see :mod:`containerguard.errors`), or built by the caller's factory.

This module is in the bottom layer (docs/architecture.md): anything may use it; it imports nothing of
ContainerGuard but :mod:`containerguard.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerguard.errors import ContainerGuardError

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 1_000_000

#: builds the error to raise from (message without location, 1-based line or None)
ErrorFactory = Callable[[str, "int | None"], ContainerGuardError]

#: the fastest safe loader this PyYAML has (libyaml's C parser and composer, Python constructors)
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def _factory(error: type[ContainerGuardError] | ErrorFactory, source: str) -> ErrorFactory:
    if not isinstance(error, type):
        return error
    cls: type[ContainerGuardError] = error

    def make(message: str, line: int | None) -> ContainerGuardError:
        return cls(f"{source}{f':{line}' if line is not None else ''}: {message}")

    return make


def _check_size(text: str, make: ErrorFactory, max_bytes: int) -> None:
    if len(text) > max_bytes:
        raise make(f"file larger than {max_bytes} bytes", None)


@contextmanager
def _parse_errors(make: ErrorFactory, text: str, max_depth: int) -> Iterator[None]:
    """The one error shape for what the parser and composer raise while reading ``text``."""
    try:
        yield
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, make, text) from None
    except RecursionError:
        raise make(f"nesting deeper than {max_depth} levels", None) from None


def _construct(ld: Any, node: Node, loader: Any, make: ErrorFactory) -> Any:
    """The data of ``node``; a value its tag refuses (``2024-02-30``) is an error at its line."""
    try:
        return ld.construct_document(node)
    except _CONSTRUCT_ERRORS as exc:
        raise _value_error(node, exc, loader, make) from None


def load(text: str, source: str, *, error: type[ContainerGuardError] | ErrorFactory,
         loader: Any = None, aliases: bool = True, max_bytes: int = MAX_BYTES,
         max_nodes: int = MAX_EXPANDED_NODES, max_depth: int = MAX_DEPTH) -> Any:
    """The data of the one YAML document in ``text`` (None for an empty one). See the module docstring."""
    return load_with_lines(text, source, error=error, loader=loader, aliases=aliases, max_bytes=max_bytes,
                           max_nodes=max_nodes, max_depth=max_depth)[0]


def load_with_lines(text: str, source: str, *, error: type[ContainerGuardError] | ErrorFactory,
                    loader: Any = None, aliases: bool = True,
                    max_bytes: int = MAX_BYTES, max_nodes: int = MAX_EXPANDED_NODES,
                    max_depth: int = MAX_DEPTH, unique_keys: bool = False) -> tuple[Any, Node | None]:
    """:func:`load`, plus the document's node tree (for :func:`line_of` in validation errors).

    The text is composed once and the data constructed from that same node tree (no second parse).
    With ``unique_keys`` a mapping that repeats a key is an error at the repeat (YAML forbids it; PyYAML
    keeps the last value, so a repeated ``condition:`` would silently replace the first).
    """
    make = _factory(error, source)
    _check_size(text, make, max_bytes)
    with _parse_errors(make, text, max_depth):
        if not aliases:
            _refuse_aliases(text, make, max_depth)
        ld = (loader or SAFE_LOADER)(text)
        try:
            node = ld.get_single_node()
            if node is not None and aliases:
                _check_tree(node, make, max_nodes, max_depth)
            if node is not None and unique_keys:
                _check_unique_keys(node, make)
            data = _construct(ld, node, loader, make) if node is not None else None
        finally:
            ld.dispose()
    return data, node


def construct(node: Node, source: str, *, error: type[ContainerGuardError] | ErrorFactory, loader: Any = None,
              unique_keys: bool = False) -> Any:
    """The data of one document composed by :func:`compose_all`, with :func:`load_with_lines`' errors: a value
    its tag refuses (``2024-02-30``) and, with ``unique_keys``, a repeated key, each at its line."""
    make = _factory(error, source)
    if unique_keys:
        _check_unique_keys(node, make)
    ld = (loader or SAFE_LOADER)("")
    try:
        return _construct(ld, node, loader, make)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, make) from None
    finally:
        ld.dispose()


def load_all(text: str, source: str, *, error: type[ContainerGuardError] | ErrorFactory,
             loader: Any = None, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_EXPANDED_NODES,
             max_depth: int = MAX_DEPTH) -> list[tuple[Any, int]]:
    """Every YAML document of ``text`` (``---`` separated, as Falco reads a rules file): (data, 1-based line of the
    document's start) for each one that is not empty. The checks of :func:`load` apply to each document."""
    make = _factory(error, source)
    _check_size(text, make, max_bytes)
    out: list[tuple[Any, int]] = []
    with _parse_errors(make, text, max_depth):
        ld = (loader or SAFE_LOADER)(text)
        try:
            while ld.check_node():
                node = ld.get_node()
                if node is not None:
                    _check_tree(node, make, max_nodes, max_depth)
                    out.append((_construct(ld, node, loader, make), node.start_mark.line + 1))
        finally:
            ld.dispose()
    return out


#: what PyYAML's constructors raise on a value their explicit tag refuses: ValueError for most ('2024-02-30'),
#: but IndexError for an empty '!!int' or '!!float', AttributeError for a '!!timestamp' that is no date, KeyError
#: for an empty '!!bool'
_CONSTRUCT_ERRORS = (ValueError, TypeError, OverflowError, AttributeError, IndexError, KeyError)


def _value_error(root: Node | None, exc: Exception, loader: Any, make: ErrorFactory) -> ContainerGuardError:
    """The error for a scalar whose tag refuses its value (an impossible date, bad base64), at its line."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode):
            probe = (loader or SAFE_LOADER)("")
            try:
                probe.construct_object(node)
            except (ValueError, TypeError, OverflowError) as inner:
                return make(f"invalid value {node.value!r}: {inner}", node.start_mark.line + 1)
            except _CONSTRUCT_ERRORS:  # PyYAML's own slip on an empty or odd value ('!!int', '!!timestamp x')
                return make(f"invalid value {node.value!r}: not a valid {node.tag.rpartition(':')[2]}",
                            node.start_mark.line + 1)
            finally:
                probe.dispose()
        elif isinstance(node, MappingNode):
            stack.extend(c for kv in reversed(node.value) for c in reversed(kv))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
    return make(f"invalid value: {exc}", None)


def _yaml_error(exc: yaml.YAMLError, make: ErrorFactory, text: str = "") -> ContainerGuardError:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: no mark, its offset
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        ch = f"{exc.character:#06x}" if isinstance(exc.character, int) else repr(exc.character)
        return make(f"invalid YAML: character {ch} is not allowed (escape it in a double-quoted string)", line)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    reason = f"invalid YAML: {problem}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and getattr(exc, "problem", None):
        reason += f" ({context} started at line {context_mark.line + 1})"
    return make(reason, mark.line + 1 if mark is not None else None)


def _refuse_aliases(text: str, make: ErrorFactory, max_depth: int) -> None:
    """Refuse anchors, aliases and deep nesting from the event stream (before any node is built)."""
    depth = 0
    for event in yaml.parse(text, Loader=SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise make("YAML anchors and aliases are not allowed", _event_line(event))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise make(f"nesting deeper than {max_depth} levels", _event_line(event))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_unique_keys(root: Node, make: ErrorFactory) -> None:
    stack = [root]
    seen_nodes: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    line = key.start_mark.line + 1
                    if (key.tag, key.value) in first:
                        raise make(f"duplicate key {key.value!r} (first at line {first[key.tag, key.value]})", line)
                    first[key.tag, key.value] = line
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def _event_line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else None


def _check_tree(root: Node, make: ErrorFactory, max_nodes: int, max_depth: int) -> None:
    if expanded_size(root, max_nodes) > max_nodes:
        raise make(f"alias expansion exceeds {max_nodes} nodes (YAML bomb?)", root.start_mark.line + 1)
    deep = _too_deep(root, max_depth)
    if deep is not None:
        raise make(f"nesting deeper than {max_depth} levels", deep.start_mark.line + 1)


def _too_deep(root: Node, max_depth: int) -> Node | None:
    """The first node nested deeper than ``max_depth`` collections, or None (shared nodes walked once)."""
    seen: set[int] = set()
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ScalarNode) or id(node) in seen:
            continue
        seen.add(id(node))
        if depth + 1 > max_depth:
            return node
        children = [c for kv in node.value for c in kv] if isinstance(node, MappingNode) else node.value
        stack.extend((c, depth + 1) for c in children)
    return None


def expanded_size(root: Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """Node count with aliases expanded, computed without expanding (memoised per shared node); a
    recursive alias counts as ``limit + 1``."""
    memo: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if nid in memo and not done:
            continue
        if isinstance(node, ScalarNode):
            memo[nid] = 1
            continue
        children: list[Node] = (
            [c for kv in node.value for c in kv] if isinstance(node, MappingNode) else list(node.value))
        if not done:
            memo[nid] = -1  # in progress (a recursive alias is refused too)
            stack.append((node, True))
            for c in children:
                if memo.get(id(c)) == -1:
                    return limit + 1
                stack.append((c, False))
        else:
            total = 1 + sum(memo.get(id(c), 1) for c in children)
            memo[nid] = min(total, limit + 1)
    return memo.get(id(root), 1)


def compose_all(text: str, loader: Any = None) -> Iterator[Node]:
    """The node tree of every document in ``text``, one at a time (for checks that walk nodes and report
    lines, such as the Kubernetes checks). The caller applies :func:`expanded_size` to each document it
    walks; :class:`yaml.YAMLError` propagates (the caller decides whether a bad document ends the file)."""
    ld = (loader or SAFE_LOADER)(text)
    try:
        while ld.check_node():
            yield ld.get_node()
    finally:
        ld.dispose()


def line_of(node: Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at ``loc`` (a pydantic error location), or of its nearest parent."""
    best = node.start_mark.line + 1 if node is not None else None
    cur = node
    for part in loc:
        nxt: Node | None = None
        if isinstance(cur, MappingNode):
            for k, v in cur.value:
                if isinstance(k, ScalarNode) and k.value == str(part):
                    nxt = v
                    break
        elif isinstance(cur, SequenceNode) and isinstance(part, int) and 0 <= part < len(cur.value):
            nxt = cur.value[part]
        if nxt is None:
            break
        cur = nxt
        best = cur.start_mark.line + 1
    return best


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_EXPANDED_NODES", "SAFE_LOADER", "ErrorFactory", "YAMLError",
           "compose_all", "expanded_size", "line_of", "load", "load_with_lines"]
