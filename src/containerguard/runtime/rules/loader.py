"""Load Falco rules files in stages: read (YAML with line marks) -> collect lists, macros, rules and their
appends/overrides -> resolve lists and expand macros -> compile -> index by event type.

``load_rules`` is pure: it returns a new :class:`RuleSet` or raises :class:`RuleError`; a caller that
reloads keeps its previous RuleSet when a reload fails (see :func:`reload_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from containerguard import yamlsafe
from containerguard.errors import RuleError
from containerguard.model import Priority
from containerguard.runtime.rules.ast import (
    And,
    Cmp,
    Const,
    FieldRef,
    MacroRef,
    Node,
    Not,
    Or,
    field_refs,
    walk,
)
from containerguard.runtime.rules.compiler import CodeGen, check_compiles, event_types
from containerguard.runtime.rules.fields import FIELD_CATALOG
from containerguard.runtime.rules.parser import ConditionError, parse_condition, parse_field, position
from containerguard.runtime.rules.ruleset import CompiledRule, RuleSet, _Compiled
from containerguard.runtime.rules.vocabulary import RESPONSE_ACTIONS, SOURCES
from containerguard.runtime.rules.vocabulary import event_types as known_event_types

#: Response names a rule may list under ``containerguard.actions``.
MAX_RULES_FILE = 32 << 20
_RULE_KEYS = {"rule", "desc", "condition", "output", "priority", "tags", "source", "enabled", "exceptions",
              "override", "append", "containerguard.id", "containerguard.actions", "skip-if-unknown-filter",
              "warn_evttypes", "capture", "capture_duration"}
_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
_REPLACEABLE = (*_APPENDABLE, "priority", "enabled", "containerguard.actions", "warn_evttypes", "skip-if-unknown-filter")
#: what a newer Falco may have that this engine does not: such a rule is disabled with a warning, not an error
_UNKNOWN_CONSTRUCTS = ("unknown field", "unknown operator")
#: caps on what a small file can expand into (macros and lists naming others twice double at each level)
MAX_LIST_ITEMS = 1_000_000
MAX_CONDITION_NODES = 200_000
#: the Falco engine version whose rules language this engine implements (the upstream rules files require it)
ENGINE_VERSION = (0, 57, 0)
_SEMVER = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}")
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_OUTPUT_FIELD = re.compile(r"%([A-Za-z_][A-Za-z0-9_.]*)(\[[^\]]*\])?")
PathArg = str | PathLike[str]


# ------------------------------------------------------------------ YAML with line numbers


class _Map(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]
    #: the line where a key's text value starts: a block scalar (| or >) starts on the line after its key
    value_lines: dict[str, int]
    #: a text value written on several lines: (its first line, the source lines) to locate a position in it
    value_rows: dict[str, tuple[int, tuple[str, ...]]]

    def value_line(self, key: str) -> int:
        return self.value_lines.get(key) or self.key_lines.get(key, self.line)


class _TrackedLists(dict[str, tuple[str, ...]]):
    """Resolved lists that remember which ones conditions and exceptions expanded."""

    def __init__(self) -> None:
        super().__init__()
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> tuple[str, ...]:
        self.used.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            self.used.add(key)
        return super().get(key, default)


class _Loader(yaml.CSafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.source_lines = stream.splitlines()  # for the source lines of multi-line values (error locations)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    m = _Map()
    m.line = node.start_mark.line + 1
    m.key_lines = {}
    m.value_lines = {}
    m.value_rows = {}
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
        if not isinstance(key, str):
            key = str(key)
        m[key] = loader.construct_object(vnode, deep=True)
        m.key_lines[key] = knode.start_mark.line + 1
        if isinstance(vnode, yaml.ScalarNode):
            m.value_lines[key] = vnode.start_mark.line + (2 if vnode.style in ("|", ">") else 1)
            rows = _source_rows(loader, vnode)
            if rows is not None:
                m.value_rows[key] = rows
    return m


class _Seq(list[Any]):
    """A YAML sequence that remembers the line of each item."""

    item_lines: list[int]


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    seq = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    seq.item_lines = [child.start_mark.line + 1 for child in node.value]
    return seq


def _source_rows(loader: _Loader, node: yaml.ScalarNode) -> tuple[int, tuple[str, ...]] | None:
    """(1-based first line, source lines) of a scalar written on several lines (block, or plain folded), with what
    precedes a plain value on its first line blanked; None for a one-line value."""
    lines = getattr(loader, "source_lines", None)
    start, end = node.start_mark, node.end_mark
    if not lines or (start.line == end.line and node.style not in ("|", ">")):
        return None
    if node.style in ("|", ">"):
        first, last = start.line + 1, end.line - (1 if end.column == 0 else 0)
        return first + 1, tuple(lines[first:last + 1])
    rows = list(lines[start.line:end.line + 1])
    if not rows:
        return None
    rows[0] = " " * start.column + rows[0][start.column:]
    return start.line + 1, tuple(rows)


def _construct_value(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))  # a bare '=' (as in `comps: [=, in]`) is YAML's "value" tag


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _read_yaml(path: Path, label: str) -> list[tuple[Any, int]]:
    """The items of every YAML document of the file (as Falco, documents may be separated by ``---``; empty items
    are skipped), each with its line."""
    try:
        size = path.stat().st_size
        if size > MAX_RULES_FILE:
            raise RuleError(f"file is too large ({size} bytes, limit {MAX_RULES_FILE})", label)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RuleError(f"not UTF-8 text: {exc.reason}", label) from None
    except OSError as exc:
        raise RuleError(f"cannot read: {exc.strerror or exc}", label) from None
    items: list[tuple[Any, int]] = []
    for doc, line in yamlsafe.load_all(text, label, loader=_Loader, max_bytes=MAX_RULES_FILE,
                                       error=lambda message, line: RuleError(message, label, line)):
        if doc is None:
            continue
        if not isinstance(doc, _Seq):
            raise RuleError("a rules file must be a YAML list of rule, macro and list items", label, line)
        items.extend((item, at) for item, at in zip(doc, doc.item_lines, strict=True) if item is not None)
    return items


# ------------------------------------------------------------------ collected definitions


@dataclass
class _Seg:
    text: str
    file: str
    line: int
    #: the source lines of a text written on several lines (see _source_rows)
    rows: tuple[int, tuple[str, ...]] | None = None

    def locate(self, rel: int) -> tuple[int, str]:
        """(line, column note) of character ``rel`` of the text: the line and column in the file when the text was
        written on several lines (a folded ``>`` text is one line once read), else its column in the text."""
        if self.rows is not None:
            first, rows = self.rows
            off = 0
            for i, row in enumerate(rows):
                body = row.strip()
                if not body:
                    continue
                idx = self.text.find(body, off)
                if idx < 0:
                    break  # escapes of a quoted value: the text differs from the source
                if rel < idx + len(body):
                    return first + i, f"column {len(row) - len(row.lstrip()) + max(0, rel - idx) + 1}"
                off = idx + len(body)
        line_off, col = position(self.text, rel)
        return self.line + line_off, f"column {col} of the condition"


@dataclass
class _Exc:
    name: str
    fields: list[str] | str
    comps: list[str] | str
    values: list[Any]
    file: str
    line: int


@dataclass
class _ListDef:
    name: str
    items: list[str]
    file: str
    line: int


@dataclass
class _MacroDef:
    name: str
    segs: list[_Seg]
    file: str
    line: int


@dataclass
class _RuleDef:
    name: str
    file: str
    line: int
    segs: list[_Seg] = field(default_factory=list)
    output: str = ""
    output_line: int = 0
    desc: str = ""
    priority: Priority = Priority.WARNING
    tags: list[str] = field(default_factory=list)
    source: str = "syscall"
    enabled: bool = True
    exceptions: list[_Exc] = field(default_factory=list)
    rule_id: str = ""
    actions: list[str] = field(default_factory=list)
    skip_unknown: bool = False
    warn_evttypes: bool = True


def _seg_text(segs: list[_Seg]) -> str:
    return " ".join(s.text for s in segs)


class _Collector:
    def __init__(self) -> None:
        self.lists: dict[str, _ListDef] = {}
        self.macros: dict[str, _MacroDef] = {}
        self.rules: dict[str, _RuleDef] = {}
        self.warnings: list[str] = []

    # ---- small validators
    @staticmethod
    def _str(item: _Map, key: str, file: str, what: str, required: bool = True) -> str:
        v = item.get(key)
        line = item.key_lines.get(key, item.line)
        if v is None:
            if required:
                raise RuleError(f"{what}: missing required key '{key}'", file, item.line)
            return ""
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise RuleError(f"{what}: '{key}' must be a string", file, line)
        return str(v)

    @staticmethod
    def _strlist(item: _Map, key: str, file: str, what: str) -> list[str]:
        v = item.get(key)
        if v is None:
            return []
        if not isinstance(v, list) or any(isinstance(x, dict | list) for x in v):
            raise RuleError(f"{what}: '{key}' must be a list of strings", file, item.key_lines.get(key, item.line))
        return [str(x).lower() if isinstance(x, bool) else str(x) for x in v]

    @staticmethod
    def _override(item: _Map, file: str, what: str, allowed: Sequence[str], replace_only: Sequence[str]) -> dict[str, str]:
        ov = item.get("override")
        line = item.key_lines.get("override", item.line)
        if not isinstance(ov, dict):
            raise RuleError(f"{what}: 'override' must be a mapping of key: append|replace", file, line)
        modes: dict[str, str] = {}
        for k, mode in ov.items():
            if mode not in ("append", "replace"):
                raise RuleError(f"{what}: override mode for '{k}' must be append or replace, got {mode!r}", file, line)
            if k not in allowed and k not in replace_only:
                raise RuleError(f"{what}: '{k}' cannot be overridden", file, line)
            if mode == "append" and k not in allowed:
                raise RuleError(f"{what}: '{k}' can only be replaced, not appended", file, line)
            if k not in item:
                raise RuleError(f"{what}: override names '{k}' but the item has no '{k}' key", file, line)
            modes[k] = mode
        extra = [k for k in item if k not in modes and k not in ("rule", "macro", "list", "override")]
        if extra:
            raise RuleError(f"{what}: key '{extra[0]}' is not listed under 'override'", file,
                            item.key_lines.get(extra[0], line))
        return modes

    # ---- items
    def add(self, item: Any, file: str, index: int, line: int | None = None) -> None:
        if not isinstance(item, _Map):
            raise RuleError(f"item {index + 1} is not a mapping (rule, macro or list)", file, line)
        if "rule" in item:
            self._rule(item, file)
        elif "macro" in item:
            self._macro(item, file)
        elif "list" in item:
            self._list(item, file)
        elif "required_engine_version" in item:
            self._engine_version(item, file)
        elif "required_plugin_versions" in item:
            self._plugin_versions(item, file)
        else:
            keys = ", ".join(sorted(item)) or "nothing"
            self.warnings.append(f"{file}:{item.line}: unknown item with keys {keys} ignored")

    def _engine_version(self, item: _Map, file: str) -> None:
        """Falco's engine version check: a number N means 0.N.0; a newer engine than the language this engine
        implements is a warning (what it does not know disables only the rules using it), garbage an error."""
        v = item["required_engine_version"]
        line = item.key_lines.get("required_engine_version", item.line)
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise RuleError("required_engine_version must be a version (0.57.0) or a number", file, line)
        if isinstance(v, int) or v.strip().isdigit():
            want = (0, int(v), 0)
        elif _SEMVER.fullmatch(v.strip()):
            want = tuple(int(x) for x in v.strip().split("."))  # type: ignore[assignment]
        else:
            raise RuleError(f"required_engine_version {v!r} is not a version (x.y.z or a number)", file, line)
        if want > ENGINE_VERSION:
            self.warnings.append(f"{file}:{line}: the file requires Falco engine version {'.'.join(map(str, want))}; "
                                 f"this engine implements the rules language of {'.'.join(map(str, ENGINE_VERSION))}: "
                                 "a construct or field it does not know disables only the rule using it")

    def _plugin_versions(self, item: _Map, file: str) -> None:
        """The shape Falco requires (a list of name/version mappings, each with optional alternatives); the plugins
        themselves are ContainerGuard's own sources (container, k8saudit, cloudtrail, gcpaudit, json)."""
        v = item["required_plugin_versions"]
        line = item.key_lines.get("required_plugin_versions", item.line)
        if not isinstance(v, list):
            raise RuleError("required_plugin_versions must be a list", file, line)
        lines = getattr(v, "item_lines", [line] * len(v))
        for entry, at in zip(v, lines, strict=True):
            alts = entry.get("alternatives", []) if isinstance(entry, dict) else None
            for e in [entry, *(alts if isinstance(alts, list) else [None])]:
                if not isinstance(e, dict) or not isinstance(e.get("name"), str) or e.get("version") is None:
                    raise RuleError("required_plugin_versions: each entry needs a name and a version", file, at)

    @staticmethod
    def _name(item: _Map, kind: str, name: str, file: str, pattern: re.Pattern[str]) -> None:
        """Falco's name rules: a macro name is an identifier (a condition could not use it otherwise), a list name a
        bare word of a condition; an item using both ``append`` and ``override`` is refused."""
        if not pattern.fullmatch(name) or name in ("and", "or", "not"):
            raise RuleError(f"{kind} '{name}': not a valid {kind} name (it must match {pattern.pattern})", file,
                            item.line)
        if item.get("append") is True and "override" in item:
            raise RuleError(f"{kind} '{name}': use either 'append' or 'override', not both", file, item.line)

    def _list(self, item: _Map, file: str) -> None:
        name = self._str(item, "list", file, "list")
        self._name(item, "list", name, file, _LIST_NAME)
        what = f"list '{name}'"
        existing = self.lists.get(name)
        items = item.get("items")
        if not isinstance(items, list) or any(isinstance(x, dict | list) for x in items):
            raise RuleError(f"{what}: 'items' must be a list of values", file, item.key_lines.get("items", item.line))
        values = [str(x).lower() if isinstance(x, bool) else str(x) for x in items]
        appending = item.get("append") is True
        if not appending and "override" in item:
            appending = self._override(item, file, what, ("items",), ()).get("items") == "append"
        if appending:
            if existing is None:
                raise RuleError(f"{what}: append to a list that has not been defined", file, item.line)
            existing.items.extend(values)
            return
        if existing is not None and existing.file != file and existing.items != values:
            self.warnings.append(f"{file}:{item.line}: {what} redefines the list of the same name from "
                                 f"{existing.file}:{existing.line}; rules loaded from both files now see this one")
        self.lists[name] = _ListDef(name, values, file, item.line)

    def _macro(self, item: _Map, file: str) -> None:
        name = self._str(item, "macro", file, "macro")
        self._name(item, "macro", name, file, _MACRO_NAME)
        what = f"macro '{name}'"
        cond = self._str(item, "condition", file, what)
        seg = _Seg(cond, file, item.value_line("condition"), item.value_rows.get("condition"))
        appending = item.get("append") is True
        if "override" in item:
            appending = self._override(item, file, what, ("condition",), ()).get("condition") == "append"
        if appending:
            existing = self.macros.get(name)
            if existing is None:
                raise RuleError(f"{what}: append to a macro that has not been defined", file, item.line)
            existing.segs.append(seg)
            return
        old = self.macros.get(name)
        if old is not None and old.file != file and _seg_text(old.segs).split() != cond.split():
            self.warnings.append(f"{file}:{item.line}: {what} redefines the macro of the same name from "
                                 f"{old.file}:{old.line}; rules loaded from both files now see this one")
        self.macros[name] = _MacroDef(name, [seg], file, item.line)

    def _exceptions(self, item: _Map, file: str, what: str) -> list[_Exc]:
        raw = item.get("exceptions")
        line = item.key_lines.get("exceptions", item.line)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise RuleError(f"{what}: 'exceptions' must be a list", file, line)
        out: list[_Exc] = []
        for ex in raw:
            if not isinstance(ex, _Map) or not isinstance(ex.get("name"), str):
                raise RuleError(f"{what}: each exception needs a 'name'", file, getattr(ex, "line", line))
            twin = next((e for e in out if e.name == ex["name"]), None)
            if twin is not None:  # as Falco: names are unique within one item
                raise RuleError(f"{what}: exception '{twin.name}' is defined twice (also at line {twin.line})", file,
                                ex.line)
            flds = ex.get("fields")
            comps = ex.get("comps")
            values = ex.get("values", [])
            ename = f"{what}: exception '{ex['name']}'"
            if values is None:
                values = []
            if not isinstance(values, list):
                raise RuleError(f"{ename}: 'values' must be a list", file, ex.line)
            comps = _exception_comps(flds, comps, values, ename, file, ex.line)
            out.append(_Exc(ex["name"], flds if flds is not None else [], comps if comps is not None else [],
                            list(values), file, ex.line))
        return out

    def _rule(self, item: _Map, file: str) -> None:
        name = self._str(item, "rule", file, "rule")
        what = f"rule '{name}'"
        for k in item:
            if k not in _RULE_KEYS and not k.startswith("containerguard."):
                self.warnings.append(f"{file}:{item.key_lines.get(k, item.line)}: {what}: unknown key '{k}' ignored")
        existing = self.rules.get(name)
        legacy_append = item.get("append") is True
        if legacy_append and "override" in item:
            raise RuleError(f"{what}: use either 'append' or 'override', not both", file, item.line)
        if legacy_append or "override" in item:
            if existing is None:
                raise RuleError(f"{what}: {'append' if legacy_append else 'override'} of a rule that has not been "
                                "defined", file, item.line)
            if legacy_append:
                modes = {k: ("append" if k in _APPENDABLE else "replace") for k in item
                         if k in _REPLACEABLE}
            else:
                modes = self._override(item, file, what, _APPENDABLE, _REPLACEABLE)
            self._apply(existing, item, file, what, modes)
            return
        if existing is not None and set(item) <= {"rule", "enabled"} and "enabled" in item:
            self._apply(existing, item, file, what, {"enabled": "replace"})
            return
        rd = _RuleDef(name, file, item.line)
        for key in ("condition", "output", "priority"):
            if key not in item:
                raise RuleError(f"{what}: missing required key '{key}'", file, item.line)
        self._apply(rd, item, file, what, dict.fromkeys(_REPLACEABLE, "replace"))
        src = item.get("source", "syscall")
        if not isinstance(src, str):
            raise RuleError(f"{what}: 'source' must be a string", file, item.key_lines.get("source", item.line))
        rd.source = src
        rd.rule_id = self._str(item, "containerguard.id", file, what, required=False)
        self.rules[name] = rd  # a redefinition replaces the rule in its original position

    def _apply(self, rd: _RuleDef, item: _Map, file: str, what: str, modes: Mapping[str, str]) -> None:
        kl = item.key_lines
        for key, mode in modes.items():
            if key not in item:
                continue
            line = kl.get(key, item.line)
            if key in ("condition", "output", "desc", "tags"):
                self._apply_text(rd, item, key, mode == "append", file, what, line)
            elif key == "exceptions":
                self._apply_exceptions(rd, item, mode == "append", file, what)
            else:
                self._apply_scalar(rd, item, key, file, what, line)

    def _apply_text(self, rd: _RuleDef, item: _Map, key: str, append: bool, file: str, what: str, line: int) -> None:
        if key == "condition":
            seg = _Seg(self._str(item, key, file, what), file, item.value_line(key), item.value_rows.get(key))
            rd.segs = [*rd.segs, seg] if append else [seg]
        elif key == "tags":
            tags = self._strlist(item, key, file, what)
            rd.tags = [*rd.tags, *(t for t in tags if t not in rd.tags)] if append else tags
        else:
            text = self._str(item, key, file, what).strip()
            old = rd.output if key == "output" else rd.desc
            new = f"{old} {text}" if append and old else text
            if key == "output":
                rd.output, rd.output_line = new, line
            else:
                rd.desc = new

    def _apply_exceptions(self, rd: _RuleDef, item: _Map, append: bool, file: str, what: str) -> None:
        new_exc = self._exceptions(item, file, what)
        if not append:
            rd.exceptions = new_exc
            return
        for ex in new_exc:
            same = next((e for e in rd.exceptions if e.name == ex.name), None)
            if same is None:
                if not ex.fields:
                    raise RuleError(f"{what}: exception '{ex.name}' is new and needs 'fields'", file, ex.line)
                rd.exceptions.append(ex)
            else:
                same.values.extend(ex.values)

    def _apply_scalar(self, rd: _RuleDef, item: _Map, key: str, file: str, what: str, line: int) -> None:
        if key == "priority":
            text = self._str(item, key, file, what)
            try:
                rd.priority = Priority.parse(text)
            except KeyError:
                raise RuleError(f"{what}: unknown priority {text!r}", file, line) from None
        elif key in ("enabled", "warn_evttypes", "skip-if-unknown-filter"):
            if not isinstance(item[key], bool):
                raise RuleError(f"{what}: '{key}' must be true or false", file, line)
            if key == "enabled":
                rd.enabled = item[key]
            elif key == "warn_evttypes":
                rd.warn_evttypes = item[key]
            else:
                rd.skip_unknown = item[key]
        elif key == "containerguard.actions":
            actions = self._strlist(item, key, file, what)
            for a in actions:
                if a not in RESPONSE_ACTIONS:
                    raise RuleError(f"{what}: unknown action {a!r} (known: {', '.join(RESPONSE_ACTIONS)})",
                                    file, line)
            rd.actions = actions


# ------------------------------------------------------------------ build


def _exception_comps(flds: Any, comps: Any, values: list[Any], ename: str, file: str, line: int) -> Any:
    """Check an exception's fields/comps/values shapes; returns comps with Falco's defaults filled in."""
    if flds is not None and not isinstance(flds, str | list):
        raise RuleError(f"{ename}: 'fields' must be a field or a list of fields", file, line)
    if isinstance(flds, list):
        if comps is None:
            comps = ["="] * len(flds)
        if not isinstance(comps, list) or len(comps) != len(flds):
            raise RuleError(f"{ename}: 'comps' must list one operator per field", file, line)
        for v in values:
            if not isinstance(v, list) or len(v) != len(flds):
                raise RuleError(f"{ename}: each value must be a list of {len(flds)} items (one per field)", file, line)
    elif isinstance(flds, str):
        if comps is None:
            comps = "in"
        if not isinstance(comps, str):
            raise RuleError(f"{ename}: 'comps' must be one operator when 'fields' is one field", file, line)
    return comps


def _missing_reason(missing: tuple[str, ...]) -> str:
    """Why a rule needing unsupplied fields is disabled ('' when none are missing)."""
    if not missing:
        return ""
    quoted = ", ".join(f"'{m}'" for m in missing)
    return f"field{'s' if len(missing) > 1 else ''} {quoted} not supplied by any source"


class _Builder:
    def __init__(self, col: _Collector, available: set[str] | None, traced: set[str] | None = None,
                 min_priority: Priority | None = None) -> None:
        self.col = col
        self.min_priority = min_priority
        self.available = available
        self.traced = frozenset(traced) if traced is not None else None
        self.warnings = col.warnings
        self.lists = _TrackedLists()
        self.used_macros: set[str] = set()
        self._macro_ast: dict[str, Node] = {}
        self.gen = CodeGen()
        self._checker = CodeGen()  # type checks where a comparison is written; its constants are thrown away

    def resolve_lists(self) -> None:
        memo: dict[str, tuple[str, ...]] = {}

        def resolve(name: str, stack: tuple[str, ...]) -> tuple[str, ...]:
            if name in memo:
                return memo[name]
            d = self.col.lists[name]
            if name in stack:
                chain = " -> ".join((*stack, name))
                raise RuleError(f"list '{name}' refers to itself: {chain}", d.file, d.line)
            out: list[str] = []
            for it in d.items:
                if it in self.col.lists and it != name:
                    out.extend(resolve(it, (*stack, name)))
                    self.lists.used.add(it)
                    if len(out) > MAX_LIST_ITEMS:  # lists naming a list twice, level after level, double each time
                        raise RuleError(f"list '{name}' has more than {MAX_LIST_ITEMS} items after expanding the "
                                        "lists it names", d.file, d.line)
                elif it == name:
                    raise RuleError(f"list '{name}' refers to itself", d.file, d.line)
                else:
                    out.append(_unquote(it))
            memo[name] = tuple(out)
            return memo[name]

        for name in self.col.lists:
            resolve(name, ())
        self.lists.update(memo)

    def warn_unused(self) -> None:
        """Parse macros no rule uses (so their errors still show) and warn about unused macros and lists, as Falco."""
        for name, d in self.col.macros.items():
            if name not in self.used_macros:
                try:
                    self.parse(d.segs, f"macro '{name}'")
                except RuleError as err:
                    if "unknown field" not in str(err):
                        raise
                    self.warnings.append(str(err))
        for name, d in self.col.macros.items():
            if name not in self.used_macros:
                self.warnings.append(f"{d.file}:{d.line}: macro '{name}' is not used by any rule")
        for name, ld in self.col.lists.items():
            if name not in self.lists.used:
                self.warnings.append(f"{ld.file}:{ld.line}: list '{name}' is not used by any rule or macro")

    def parse(self, segs: list[_Seg], what: str) -> Node:
        text = _seg_text(segs)
        try:
            return parse_condition(text, self.lists)
        except ConditionError as exc:
            raise self._located(exc, segs, what) from None

    def typecheck(self, node: Node) -> None:
        """Compile each comparison of a parsed condition (macros not expanded yet) on its own: a type error, a bad
        number, pattern or network raises ConditionError at the comparison's position in that text, so the error
        names the macro or the exception and the line where the comparison is written."""
        for n in walk(node):
            if isinstance(n, Cmp):
                self._checker.cmp(n)

    def parse_checked(self, segs: list[_Seg], what: str) -> Node:
        """:meth:`parse`, then :meth:`typecheck`, errors located in ``segs``."""
        node = self.parse(segs, what)
        try:
            self.typecheck(node)
        except ConditionError as exc:
            raise self._located(exc, segs, what) from None
        return node

    @staticmethod
    def _located(exc: ConditionError, segs: list[_Seg], what: str) -> RuleError:
        offset = 0
        for seg in segs:
            end = offset + len(seg.text)
            if exc.pos <= end or seg is segs[-1]:
                line, col = seg.locate(max(0, min(exc.pos - offset, len(seg.text))))
                return RuleError(f"{what}: {exc.message} ({col})", seg.file, line)
            offset = end + 1
        return RuleError(f"{what}: {exc.message}", segs[0].file if segs else None)  # pragma: no cover

    def macro(self, name: str, stack: tuple[str, ...], user: tuple[str, int, str]) -> Node:
        self.used_macros.add(name)
        cached = self._macro_ast.get(name)
        if cached is not None:
            return cached
        d = self.col.macros.get(name)
        if d is None:
            file, line, what = user
            raise RuleError(f"{what}: undefined macro '{name}'", file, line)
        if name in stack:
            chain = " -> ".join((*stack, name))
            raise RuleError(f"macro '{name}' is cyclic: {chain}", d.file, d.line)
        node = self.parse_checked(d.segs, f"macro '{name}'")
        node = self.expand(node, (*stack, name), (d.file, d.line, f"macro '{name}'"))
        self._macro_ast[name] = node
        return node

    def expand(self, node: Node, stack: tuple[str, ...], user: tuple[str, int, str]) -> Node:
        if isinstance(node, MacroRef):
            return self.macro(node.name, stack, user)
        if isinstance(node, And):
            return And(tuple(self.expand(n, stack, user) for n in node.items))
        if isinstance(node, Or):
            return Or(tuple(self.expand(n, stack, user) for n in node.items))
        if isinstance(node, Not):
            return Not(self.expand(node.item, stack, user))
        return node

    def exceptions(self, rd: _RuleDef, what: str) -> Node | None:
        alts: list[Node] = []
        for ex in rd.exceptions:
            ename = f"{what}: exception '{ex.name}'"
            first = len(alts)
            try:
                if isinstance(ex.fields, str):
                    ref = parse_field(ex.fields)
                    op = ex.comps if isinstance(ex.comps, str) else "in"
                    vals = self._values(ex.values)
                    if op in ("in", "intersects", "pmatch"):
                        if vals:
                            alts.append(Cmp(ref, op, vals))
                    else:
                        alts.extend(Cmp(ref, self._op(op, ename, ex), v) for v in vals)
                else:
                    refs = [parse_field(f) for f in ex.fields]
                    comps = [self._op(str(c), ename, ex) for c in ex.comps]
                    for tup in ex.values:
                        parts: list[Node] = []
                        for ref, op, v in zip(refs, comps, tup, strict=True):
                            if op in ("in", "intersects", "pmatch"):
                                parts.append(Cmp(ref, op, self._values(v if isinstance(v, list) else [v])))
                            else:
                                parts.append(Cmp(ref, op, _scalar(v)))
                        alts.append(And(tuple(parts)) if len(parts) > 1 else parts[0])
                for alt in alts[first:]:
                    self.typecheck(alt)
            except ConditionError as exc:
                raise RuleError(f"{ename}: {exc.message}", ex.file, ex.line) from None
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else Or(tuple(alts))

    @staticmethod
    def _op(op: str, ename: str, ex: _Exc) -> str:
        from containerguard.runtime.rules.parser import BINARY_OPS

        if op not in BINARY_OPS:
            raise RuleError(f"{ename}: unknown comparison operator {op!r}", ex.file, ex.line)
        return "=" if op == "==" else op

    def _values(self, vals: Iterable[Any]) -> tuple[str, ...]:
        out: list[str] = []
        for v in vals:
            if isinstance(v, list):
                out.extend(self._values(v))
            elif isinstance(v, str) and v in self.lists:
                out.extend(self.lists[v])
            else:
                out.append(_scalar(v))
        return tuple(out)

    def output(self, rd: _RuleDef, what: str) -> tuple[list[str | int], list[FieldRef], list[str]]:
        """The output format split into text and field slots, the fields, and their names as written (Falco
        keys ``output_fields`` by the spelling in the format: ``evt.arg.flags`` stays ``evt.arg.flags``)."""
        text = rd.output.replace("%container.info", "container_id=%container.id container_name=%container.name")
        parts: list[str | int] = []
        refs: list[FieldRef] = []
        names: list[str] = []
        last = 0
        for m in _OUTPUT_FIELD.finditer(text):
            name = m.group(1)
            end = m.end()
            if name.endswith(".") and not m.group(2):
                stripped = name.rstrip(".")
                end -= len(name) - len(stripped)
                name = stripped
            token = name + (m.group(2) or "")
            try:
                ref = parse_field(token)
            except ConditionError as exc:
                if not exc.message.startswith("unknown field"):
                    raise RuleError(f"{what}: output: {exc.message}", rd.file, rd.output_line or rd.line) from None
                # as Falco does for a field it cannot resolve: the rule works, the value prints as <NA>
                self.warnings.append(f"{rd.file}:{rd.output_line or rd.line}: {what}: output: {exc.message} "
                                     "(printed as <NA>)")
                parts.append(text[last : m.start()] + "<NA>")
                last = end
                continue
            parts.append(text[last : m.start()])
            parts.append(len(refs))
            refs.append(ref)
            names.append(token)
            last = end
        parts.append(text[last:])
        return parts, refs, names

    def check_fields(self, rd: _RuleDef, what: str, refs: list[FieldRef], orefs: list[FieldRef]) -> tuple[str, ...]:
        """Raise on fields of another source; return the condition fields no source supplies (they disable the
        rule; an output field nobody supplies prints as <NA>, as in Falco)."""
        for ref in refs + orefs:
            spec = FIELD_CATALOG[ref.name]
            if spec.source not in ("any", rd.source):
                raise RuleError(f"{what}: field '{ref.name}' belongs to source {spec.source}, the rule's source is "
                                f"{rd.source}", rd.file, rd.line)
        if self.available is None:
            return ()
        return tuple(sorted({r.name for r in refs if r.name not in self.available and r.name != "evt.type"}))

    def untraced(self, rd: _RuleDef, etypes: frozenset[str] | None) -> tuple[str, ...]:
        """The rule's event types the sensor cannot report, when it can report none of them (else ())."""
        if self.traced is None or rd.source != "syscall" or not etypes:
            return ()
        if etypes & self.traced:
            missing = sorted(etypes - self.traced)
            if missing:
                self.warnings.append(f"{rd.file}:{rd.line}: rule '{rd.name}': event types {', '.join(missing)} are "
                                     "not traced by the sensor: the rule fires only on the others")
            return ()
        return tuple(sorted(etypes))

    def check_compiles(self, rd: _RuleDef, what: str, node: Node) -> None:
        """Generate and compile the condition once: type checks, regex safety, val() arity fail here, with the line."""
        cond_line = rd.segs[0].line if rd.segs else rd.line
        try:
            code = self.gen.expr(node, None)
            if isinstance(code, str):
                check_compiles(code)
        except ConditionError as exc:
            raise RuleError(f"{what}: {exc.message}", rd.file, cond_line) from None
        except (SyntaxError, RecursionError, MemoryError):
            raise RuleError(f"{what}: condition too large or too deeply nested (after macro expansion)",
                            rd.file, cond_line) from None

    def warn_event_types(self, where: str, what: str, etypes: frozenset[str] | None) -> None:
        """Warnings for an enabled syscall rule's event types: unknown ones, none at all, contradictory."""
        unknown = sorted((etypes or frozenset()) - known_event_types())
        if unknown:
            self.warnings.append(f"{where}: {what} tests unknown event types {', '.join(unknown)} "
                                 "(not Linux syscalls nor ContainerGuard event types): they never occur")
        if etypes is None:
            self.warnings.append(f"{where}: {what} has no evt.type restriction: it runs on every event")
        elif not etypes:
            self.warnings.append(f"{where}: {what} can never match: its evt.type conditions contradict")

    def build(self) -> list[tuple[CompiledRule, _Compiled | None]]:
        self.resolve_lists()
        out: list[tuple[CompiledRule, _Compiled | None]] = []
        seen_ids: dict[str, str] = {}
        for rd in self.col.rules.values():
            what = f"rule '{rd.name}'"
            where = f"{rd.file}:{rd.line}"
            if rd.rule_id:
                other = seen_ids.setdefault(rd.rule_id, rd.name)
                if other != rd.name:
                    raise RuleError(f"{what}: containerguard.id {rd.rule_id} is already used by rule '{other}'",
                                    rd.file, rd.line)
            base = CompiledRule(name=rd.name, id=rd.rule_id or rd.name, priority=rd.priority, tags=tuple(rd.tags),
                                source=rd.source, enabled=False, actions=tuple(rd.actions), desc=rd.desc,
                                condition=_seg_text(rd.segs), output=rd.output, file=rd.file, line=rd.line)
            if rd.source not in SOURCES:
                self.warnings.append(f"{where}: {what} disabled: source '{rd.source}' is not supported "
                                     f"(supported: {', '.join(SOURCES)})")
                out.append((replace(base, disabled_reason=f"unsupported source {rd.source}"), None))
                continue
            try:
                node = self.parse_checked(rd.segs, what)
                node = self.expand(node, (), (rd.file, rd.line, what))
                if _tree_size(node, MAX_CONDITION_NODES) > MAX_CONDITION_NODES:
                    # macros are shared, not copied, while expanding: a macro using the previous one twice, level
                    # after level, is a small file whose condition doubles each level
                    raise RuleError(f"{what}: condition too large after macro expansion (more than "
                                    f"{MAX_CONDITION_NODES} comparisons and operators)", rd.file, rd.line)
                exc_node = self.exceptions(rd, what)
                parts, orefs, onames = self.output(rd, what)
            except RecursionError:
                raise RuleError(f"{what}: macros nested too deeply", rd.file, rd.line) from None
            except RuleError as err:
                msg = str(err)
                construct = next((c for c in _UNKNOWN_CONSTRUCTS if c in msg), None)
                if construct is not None:
                    # Falco stops at a field or operator it does not know; we disable just this rule and load the
                    # rest, so a file written for a newer Falco still works (skip-if-unknown-filter says the same)
                    detail = msg[msg.index(construct):]
                    reason = detail.split(" (column")[0]
                    missing: tuple[str, ...] = (reason.split("'")[1],) if reason.count("'") >= 2 else ()
                    at = f"{err.file}:{err.line}" if err.file and err.line else where
                    self.warnings.append(f"{at}: {what} disabled: {detail}")
                    out.append((replace(base, disabled_reason=reason, missing=missing), None))
                    continue
                raise
            if exc_node is not None:
                node = And((node, Not(exc_node)))
            refs = field_refs(node)
            missing = self.check_fields(rd, what, refs, orefs)
            reason = _missing_reason(missing)
            self.check_compiles(rd, what, node)
            etypes = event_types(node) if rd.source == "syscall" else None
            untraced = () if reason else self.untraced(rd, etypes)
            if untraced:
                reason = f"event type{'s' if len(untraced) > 1 else ''} {', '.join(untraced)} not traced by the sensor"
            if not reason and self.min_priority is not None and rd.priority < self.min_priority:
                # as Falco's `priority` setting: a rule less severe than the minimum is not run (no warning: chosen)
                enabled, below = False, (f"priority {rd.priority.name.capitalize()} is below the minimum "
                                         f"{self.min_priority.name.capitalize()}")
            else:
                enabled, below = rd.enabled and not reason, ""
            if reason:
                self.warnings.append(f"{where}: {what} disabled: {reason}")
            elif enabled and rd.source == "syscall" and rd.warn_evttypes:
                self.warn_event_types(where, what, etypes)
            names = frozenset(r.name for r in refs + orefs)
            cr = replace(base, enabled=enabled,
                         disabled_reason=reason or below or ("" if rd.enabled else "enabled: false"),
                              event_types=etypes, fields=names,
                              missing=missing + tuple(f"evt.type={t}" for t in untraced))
            out.append((cr, _Compiled(node, parts, orefs, field_names=tuple(onames))))
        self.warn_unused()
        return out


def _tree_size(node: Node, limit: int) -> int:
    """The number of nodes of ``node`` as a tree (shared subtrees counted each time they occur), computed over the
    shared graph without expanding it; anything above ``limit`` is ``limit + 1``."""
    memo: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        kids: tuple[Node, ...] = n.items if isinstance(n, And | Or) else (n.item,) if isinstance(n, Not) else ()
        if done:
            memo[id(n)] = min(limit + 1, 1 + sum(memo[id(k)] for k in kids))
        elif id(n) not in memo:
            stack.append((n, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(node)]


def _unquote(item: str) -> str:
    """Falco pastes list items into conditions, so an item written '"a-b"' means the string a-b."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        return item[1:-1]
    return item


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        raise ConditionError(f"expected a single value, got {v!r}", 0)
    return str(v)


def load_rules(paths: Sequence[PathArg], available_fields: set[str] | None = None,
               traced_event_types: set[str] | None = None, min_priority: Priority | None = None) -> RuleSet:
    """Load rules files (later files append to / override earlier ones) into a compiled, indexed RuleSet.

    ``available_fields``: catalog names the event sources can supply; a rule whose condition needs another field
    is disabled with a warning. None means every catalog field is available. ``traced_event_types``: the syscall
    event types the sensor can report; a rule that can only match others is disabled ("unable to fire"), never
    silently enabled. ``min_priority``: as Falco's ``priority`` setting, rules less severe are loaded but not run.
    Raises :class:`RuleError` on hard errors; a field or construct the engine does not know
    disables only the rule using it (a warning).
    """
    col = _Collector()
    for p in paths:
        label = str(p)
        for i, (item, line) in enumerate(_read_yaml(Path(p), label)):
            col.add(item, label, i, line)
    builder = _Builder(col, available_fields, traced_event_types, min_priority)
    where = str(paths[-1]) if paths else None
    try:
        compiled = builder.build()
        rs = RuleSet(compiled, builder.gen, list(builder.warnings), [str(p) for p in paths], available_fields)
    except RecursionError:
        raise RuleError("macros nested too deeply", where) from None
    except ConditionError as exc:
        raise RuleError(f"the rules cannot be compiled: {exc.message}", where) from None
    except (RuleError, MemoryError):
        raise
    except Exception as exc:  # a bug of ours must not end an agent reloading a file: it keeps its last good ruleset
        raise RuleError(f"internal error compiling the rules ({type(exc).__name__}: {exc}); please report it",
                        where) from exc
    rs.traced_event_types = traced_event_types
    rs.min_priority = min_priority
    return rs


def reload_rules(current: RuleSet, paths: Sequence[PathArg] | None = None) -> tuple[RuleSet, RuleError | None]:
    """Reload ``paths`` (default: the files ``current`` came from). On failure keep ``current`` and return the error."""
    try:
        return load_rules(list(paths) if paths is not None else current.paths, current.available_fields,
                          current.traced_event_types, current.min_priority), None
    except RuleError as err:
        return current, err


__all__ = ["Const", "load_rules", "reload_rules"]
