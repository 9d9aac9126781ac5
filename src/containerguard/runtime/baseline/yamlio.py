"""Baselines as YAML: export for review and version control, import (and edit) validated with file:line errors.

The document is validated with a pydantic model at this edge; a document that does not validate is refused
whole, naming the file and the line of the offending value, and nothing in the store changes.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerguard import yamlsafe
from containerguard.errors import BaselineError
from containerguard.runtime.baseline.profile import Profile

MAX_ENTRIES = 100_000


class _Doc(BaseModel):
    # strict: YAML already gives typed values; "yes" is no boolean here and "12" no number
    model_config = ConfigDict(extra="forbid", strict=True)

    workload: str
    image: str = ""
    image_id: str = ""
    name_pattern: str = ""
    mode: Literal["learn", "monitor", "protect"] = "learn"
    locked: bool = False
    created_ns: int = 0
    last_change_ns: int = 0
    process: list[str] = []
    file: list[str] = []
    network: list[str] = []
    syscall: list[str] = []
    deviations: list[str] = []

    @field_validator("workload")
    @classmethod
    def _workload(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("process", "file", "network", "syscall", "deviations")
    @classmethod
    def _size(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries")
        return v

    @field_validator("process")
    @classmethod
    def _process(cls, v: list[str]) -> list[str]:
        for e in v:  # EXE may be relative or empty: what the agent learns of a process it could not resolve
            if e.count("|") < 3:
                raise ValueError(f"process entry {e!r}: expected EXE|USER|PARENT_EXE|ARGV_SHAPE")
        return v

    @field_validator("file")
    @classmethod
    def _file(cls, v: list[str]) -> list[str]:
        for e in v:
            if not e.startswith("/"):
                raise ValueError(f"file entry {e!r}: expected an absolute directory")
        # as the agent writes a directory (normalised: '/var/log/' and '/srv/x/../log' would never match)
        return [d if d != "//" else "/" for d in (posixpath.normpath(e) for e in v)]

    @field_validator("network")
    @classmethod
    def _network(cls, v: list[str]) -> list[str]:
        return [_network_entry(e) for e in v]

    @field_validator("syscall")
    @classmethod
    def _syscall(cls, v: list[str]) -> list[str]:
        for e in v:
            if not _SYSCALL.fullmatch(e):
                raise ValueError(f"syscall entry {e!r}: expected a syscall name such as 'openat' or 'connect'")
        return v

    @field_validator("created_ns", "last_change_ns")
    @classmethod
    def _time(cls, v: int) -> int:
        if not 0 <= v < 2**63:  # nanoseconds since the epoch, as the agent writes them (beyond: no date)
            raise ValueError("expected nanoseconds since the epoch (0 to 2^63-1)")
        return v


_SYSCALL = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_PORT = re.compile(r"[0-9]{1,5}")


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or int(text) > 65535:  # ASCII digits only: str.isdigit also takes fullwidth and superscript digits
        raise ValueError
    return int(text)


def _address(text: str) -> str:
    """A CIDR or address in the form the agent writes it (``10.0.0.0/24``, ``::1``): what an entry is compared by."""
    if "/" in text:
        return str(ipaddress.ip_network(text, strict=False))
    return str(ipaddress.ip_address(text))


def _network_entry(entry: str) -> str:
    """``entry`` validated and written as the agent writes it (``listen 0080`` is ``listen 80``, ``out
    10.0.0.7/24:443`` is ``out 10.0.0.0/24:443``): entries are compared as text, so another spelling of the same
    network would never match."""
    direction, _, rest = entry.partition(" ")
    try:
        if direction == "listen":
            return f"listen {_port(rest)}"
        if direction == "in":
            return f"in {_address(rest)}"
        if direction == "out":
            net, _, port = rest.rpartition(":")
            return f"out {_address(net)}:{_port(port)}"
        raise ValueError
    except ValueError:
        raise ValueError(f"network entry {entry!r}: expected 'out CIDR:PORT', 'in CIDR' or 'listen PORT' "
                         "(a port 0-65535)") from None


def stored_profile(doc: Any, key: str, version: int) -> Profile:
    """A profile from a stored row's JSON document, validated as an import is (a row damaged by hand or by another
    program: a list where entries belong, an unknown mode, the document of another workload); ValueError says why."""
    if not isinstance(doc, dict):
        raise ValueError("not a baseline mapping")
    try:
        valid = _Doc.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    if valid.workload != key:
        raise ValueError(f"it names workload {valid.workload!r}")
    return Profile.from_doc(valid.model_dump(), version)


def export_yaml(profiles: list[Profile]) -> str:
    """The YAML document for ``profiles`` (a list, one mapping per workload)."""
    docs = [p.to_doc() for p in profiles]
    # names and entries come from containers (names, labels, arguments): one that holds a character reordering or
    # breaking what a terminal or an editor shows (a bidi override, a line separator) has the whole document
    # written in ASCII with escapes (C0 and C1 controls are escaped by YAML itself)
    reorders = any(_REORDERING.search(s) for d in docs for v in d.values()
                   for s in (v if isinstance(v, list) else [v]) if isinstance(s, str) and not s.isascii())
    return yaml.safe_dump(docs, sort_keys=False, allow_unicode=not reorders, width=120)


_REORDERING = re.compile("[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _duplicate_key(root: Node | None) -> tuple[str, int] | None:
    """The first key that appears twice in one mapping (YAML keeps the last silently), with its line."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if isinstance(k, ScalarNode):
                    if k.value in seen:
                        return k.value, k.start_mark.line + 1
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return None


def decode(data: bytes, source: str) -> str:
    """A baseline file's bytes as text: UTF-8 (a BOM allowed), else BaselineError naming the line of the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BaselineError(f"{source}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x})") from None


def import_yaml(text: str, source: str) -> list[Profile]:
    """Validate a YAML document of baselines (a list, or one mapping); BaselineError names ``source:line``."""
    data, root = yamlsafe.load_with_lines(text, source, error=BaselineError, aliases=False)
    dup = _duplicate_key(root)
    if dup is not None:
        raise BaselineError(f"{source}:{dup[1]}: key {dup[0]!r} appears twice")
    items: Any = data if isinstance(data, list) else [data]
    if data is None or not all(isinstance(x, dict) for x in items):
        bad = next((i for i, x in enumerate(items) if not isinstance(x, dict)), 0) if isinstance(data, list) else None
        line = yamlsafe.line_of(root, (bad,)) if bad is not None else (root.start_mark.line + 1 if root else 1)
        raise BaselineError(f"{source}:{line}: expected a baseline mapping or a list of them")
    out: list[Profile] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            doc = _Doc.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ((i,) if isinstance(data, list) else ()) + tuple(err["loc"])
            line = yamlsafe.line_of(root, loc)
            where = ".".join(str(x) for x in err["loc"])
            raise BaselineError(f"{source}:{line}: {where}: {err['msg']}") from None
        if doc.workload in seen:
            line = yamlsafe.line_of(root, ((i,) if isinstance(data, list) else ()) + ("workload",))
            raise BaselineError(f"{source}:{line}: workload {doc.workload!r} appears twice")
        seen.add(doc.workload)
        out.append(Profile.from_doc(doc.model_dump()))
    return out
