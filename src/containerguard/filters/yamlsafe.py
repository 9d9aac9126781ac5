"""Safe YAML loading for policy files: size cap, no anchors/aliases (no billion laughs), line numbers."""

from __future__ import annotations

from typing import Any

import yaml

from containerguard.errors import PolicyError

MAX_POLICY_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64


def load_yaml_with_lines(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML into plain data plus its node tree (for error line numbers).

    Aliases are refused outright: policy files have no use for them and they are the vector of
    "billion laughs" bombs. Nesting deeper than MAX_DEPTH is refused as well.
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: file larger than {MAX_POLICY_BYTES} bytes")
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise PolicyError(f"{source}:{_line(event)}: YAML anchors and aliases are not allowed")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PolicyError(f"{source}:{_line(event)}: nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        # compose once and build the data from that same node tree (not a second full parse)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"{source}{line}: invalid YAML: {problem}") from exc
    return data, node


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at ``loc`` (a pydantic error location), or of its nearest parent."""
    best = node.start_mark.line + 1 if node is not None else None
    cur = node
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(cur, yaml.MappingNode):
            for k, v in cur.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = v
                    break
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(cur.value):
            nxt = cur.value[part]
        if nxt is None:
            break
        cur = nxt
        best = cur.start_mark.line + 1
    return best
