"""Compile condition ASTs to Python source, then to one dispatch function per event type.

Each dispatch function takes ``(f, t, ts)`` (the event's field map, type and time) and returns the list of
indices of matching rules. Field reads are ``f.get(key)``; value lists are hoisted frozensets; ``evt.type``
comparisons are folded to constants for the event type the function serves, so a rule costs nothing
on event types it cannot match. A rule that raises (e.g. a field recorded with the wrong type) counts an
evaluation error and does not match; the others still run.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import re2

from containerguard.runtime import k8saudit
from containerguard.runtime.rules.ast import And, Cmp, Const, FieldRef, MacroRef, Node, Not, Or
from containerguard.runtime.rules.fields import (
    ANCESTOR_FIELDS,
    ANCESTORS,
    DICT_FIELDS,
    DNS_NAME_FIELDS,
    FIELD_CATALOG,
    storage_key,
)
from containerguard.runtime.rules.parser import ConditionError

DispatchFn = Callable[[Mapping[str, Any], str, int], Sequence[int]]

_STRING_OPS = frozenset({"contains", "icontains", "startswith", "endswith", "glob", "iglob", "regex", "pmatch"})
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_MULTI_TYPES = frozenset({"list", "ilist"})
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 8 << 20

#: fields the compiler computes from other fields, and fields computed by their argument when they have one
_DERIVED_FIELDS = frozenset({"fd.ip", "fd.port", "fd.net", "fd.snet", "fd.cnet", "fd.rnet", "fd.lnet"})
_ARG_FIELDS = frozenset({"container.mount.source", "container.mount.dest", "jevt.value", "json.value", "ka.uri.param",
                         "ka.req.volume.hostpath"})

#: operators compiled as one expression over the value ``v`` and the right-hand side ``c``
_SIMPLE_PREDS = {
    "=": "{v} == {c}", "!=": "{v} != {c}", "<": "{v} < {c}", "<=": "{v} <= {c}", ">": "{v} > {c}",
    ">=": "{v} >= {c}", "contains": "{c} in {v}", "startswith": "{v}.startswith({c})",
    "endswith": "{v}.endswith({c})", "bcontains": "{c} in _bytes({v})", "bstartswith": "_bytes({v}).startswith({c})",
}

# ------------------------------------------------------------------ runtime helpers used by generated code


def _idx(v: Any, i: int) -> Any:
    if v is None or i >= len(v):
        return None
    return v[i]


def _key(v: Any, k: str) -> Any:
    return v.get(k) if isinstance(v, dict) else None


def _envtext(v: Any) -> Any:
    return " ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else v


def _arg(f: Mapping[str, Any], name: str) -> Any:
    """evt.arg.NAME / evt.arg[NAME] / evt.arg[N]: a syscall argument as text (Falco renders them as text)."""
    v = f.get("evt.arg." + name)
    if v is None:
        args = f.get("evt.args")
        if isinstance(args, dict):
            v = args.get(name)
            if v is None and name.isdigit():
                vals = list(args.values())
                v = vals[int(name)] if int(name) < len(vals) else None
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _dnsnames(names: Any, name: Any) -> Any:
    """Every watched domain name of an address (``fd.sip.names``), or the one recorded name (hand-made events)."""
    if names is not None:
        return names
    return () if name is None else (name,)


def _jptr(doc: Any, parts: tuple[str, ...]) -> Any:
    if doc is not None and type(doc) is not dict:
        load = getattr(doc, "value", None)  # a raw record parsed on first use (events.LazyJSON)
        if callable(load):
            doc = load()
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                return None
            cur = cur[p]
        elif isinstance(cur, list):
            if not p.isdigit() or int(p) >= len(cur):
                return None
            cur = cur[int(p)]
        else:
            return None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict | list):  # an object or array reads as its JSON text, as Falco's json plugin gives it
        return orjson.dumps(cur).decode()
    return cur


def _uriparam(uri: Any, name: str) -> Any:
    if not isinstance(uri, str) or "?" not in uri:
        return None
    from urllib.parse import parse_qs

    vals = parse_qs(uri.split("?", 1)[1]).get(name)
    return " ".join(vals) if vals else None


def _pair(a: Any, b: Any) -> list[Any] | None:
    """Both ends of a connection (fd.ip, fd.port, fd.net): the values that are present."""
    out = [x for x in (a, b) if x is not None]
    return out or None


_IP_CACHE: dict[Any, tuple[int, int] | None] = {}


def _ip(a: Any) -> tuple[int, int] | None:
    """(version, integer) of an address, parsed once: a host talks to few distinct peers, and parsing text into an
    ipaddress object was most of the cost of a CIDR test."""
    hit = _IP_CACHE.get(a, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    try:
        ip = ipaddress.ip_address(str(a).strip("[]"))
        val: tuple[int, int] | None = (ip.version, int(ip))
    except ValueError:
        val = None
    if len(_IP_CACHE) >= 65536:
        _IP_CACHE.clear()
    _IP_CACHE[a] = val
    return val


def _innet(v: Any, nets: tuple[tuple[int, int, int], ...]) -> bool:
    """True if the address (or any of a list of addresses) lies in one of ``nets`` ((version, network, mask))."""
    for a in v if isinstance(v, list) else (v,):
        ip = _ip(a)
        if ip is None:
            continue
        ver, n = ip
        for nver, net, mask in nets:
            if nver == ver and n & mask == net:
                return True
    return False


def _mount(values: Any, others: Any, arg: str) -> Any:
    """container.mount.source[ARG] / .dest[ARG]: by index, or the entry whose counterpart matches the glob ARG."""
    if not isinstance(values, list):
        return None
    if arg.isdigit():
        return values[int(arg)] if int(arg) < len(values) else None
    if not isinstance(others, list):
        return None
    for v, o in zip(values, others, strict=False):
        if fnmatch.fnmatchcase(str(o), arg):
            return v
    return None


def _istr(v: Any) -> str | None:
    return None if v is None else str(v)


def _map(fn: Callable[[Any], Any], v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, list | tuple):
        return [fn(x) for x in v]
    return fn(v)


def _tolower(v: Any) -> Any:
    return _map(lambda x: str(x).lower(), v)


def _toupper(v: Any) -> Any:
    return _map(lambda x: str(x).upper(), v)


def _basename(v: Any) -> Any:
    return _map(lambda x: os.path.basename(str(x)), v)


def _b64_one(x: Any) -> Any:
    try:
        return base64.b64decode(str(x), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _b64(v: Any) -> Any:
    return _map(_b64_one, v)


def _bytes(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    return str(v).encode("utf-8", "surrogateescape")


def rfc3339(ns: int) -> str:
    """RFC 3339 UTC time with nanoseconds, as Falco prints it."""
    sec, frac = divmod(int(ns), 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


RUNTIME: dict[str, Any] = {
    "_idx": _idx, "_key": _key, "_envtext": _envtext, "_arg": _arg, "_jptr": _jptr, "_uriparam": _uriparam,
    "_tolower": _tolower, "_toupper": _toupper, "_basename": _basename, "_b64": _b64, "_bytes": _bytes,
    "_rfc3339": rfc3339, "_istr": _istr, "_dnsnames": _dnsnames, "_pair": _pair, "_innet": _innet, "_mount": _mount,
    "_kaidx": k8saudit.indexed, "_kavol": k8saudit.volume_hostpath, "__builtins__": {"any": any, "bool": bool, "len": len, "Exception": Exception},
}

# ------------------------------------------------------------------ safe regular expressions


def compile_regex(pattern: str, pos: int) -> Callable[[str], Any]:
    """A linear-time (RE2) full-match function for the ``regex`` operator; bad patterns raise ConditionError."""
    try:
        rx = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise ConditionError(f"invalid or unsupported regular expression {pattern!r}: {detail} "
                             "(RE2 syntax: no backreferences or lookaround, matching is linear-time)", pos) from None
    return rx.fullmatch  # type: ignore[no-any-return]


# ------------------------------------------------------------------ code generation


class CodeGen:
    """Turns ASTs into Python expression source; hoisted constants land in ``self.ns``."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = dict(RUNTIME)
        self._consts: dict[tuple[str, Any], str] = {}
        self._tmp = 0
        #: generated source per dispatch function name (for debugging and `rules explain`-style tooling)
        self.sources: dict[str, str] = {}

    def hoist(self, kind: str, value: Any) -> str:
        """A name in the generated module's namespace bound to ``value`` (compiled regexes, sets, tuples)."""
        key = (kind, value)
        name = self._consts.get(key)
        if name is None:
            name = f"_c{len(self._consts)}"
            self._consts[key] = name
            self.ns[name] = value
        return name

    @staticmethod
    def get(key: str) -> str:
        """A field read, as a marker that :func:`resolve_reads` turns into ``g(key)`` or a prefetched local."""
        return f"\x00{key}\x00"

    def tmp(self) -> str:
        """A temporary variable, as a marker (see :func:`resolve_reads`)."""
        self._tmp += 1
        return f"\x01{self._tmp}\x01"

    # ---- fields
    def field(self, ref: FieldRef) -> tuple[str, bool]:
        """(source expression, multi-valued?) for a field reference with its transformers applied."""
        name, arg = ref.name, ref.arg
        spec = FIELD_CATALOG[name]
        multi = False
        if name == "evt.type":
            code = "t"
        elif name in ("evt.rawtime", "jevt.rawtime"):
            code = "ts"
        elif name in ("evt.time", "jevt.time"):
            code = f"({self.get(name)} or _rfc3339(ts))"
        elif name == "evt.time.iso8601":
            code = "_rfc3339(ts)"
        elif name in ANCESTOR_FIELDS:
            self_key = ANCESTORS[name][1]
            if arg is None:
                code, multi = f"{self.get(storage_key(name))}", True
            else:
                if not arg.strip().isdigit():
                    raise ConditionError(f"{name}[{arg}]: the argument must be a number", ref.pos)
                n = int(arg)
                code = f"{self.get(self_key)}" if n == 0 else f"_idx({self.get(storage_key(name))}, {n - 1})"
        elif name in DICT_FIELDS:
            key = storage_key(name)
            code = f"_envtext({self.get(key)})" if arg is None else f"_key({self.get(key)}, {arg!r})"
        elif name in ("evt.arg", "evt.rawarg"):
            assert arg is not None
            code = f"_arg(f, {arg!r})"
        elif name in _DERIVED_FIELDS or (name in _ARG_FIELDS and arg is not None):
            code, multi = self._derived(ref)
        elif name in k8saudit.INDEXED and arg is not None:  # Falco's index on a k8saudit list: the ith container, ...
            if not arg.strip().isdigit():
                raise ConditionError(f"{name}[{arg}]: the argument must be a number", ref.pos)
            code, multi = f"_kaidx({self.get('jevt')}, {name!r}, {int(arg)})", True
        else:
            if arg is not None and spec.arg == "none":
                raise ConditionError(f"field '{name}' takes no [argument]", ref.pos)
            code = f"{self.get(storage_key(name))}"
            multi = spec.type in _MULTI_TYPES
        for x in ref.xforms:
            code = f"_{x}({code})"
        return code, multi

    def _derived(self, ref: FieldRef) -> tuple[str, bool]:
        """Fields computed from other fields (fd.ip, fd.snet, ...) or by their argument (jevt.value[/ptr], ...)."""
        name, arg = ref.name, ref.arg
        if name in ("fd.ip", "fd.port", "fd.net"):
            a, b = {"fd.ip": ("fd.cip", "fd.sip"), "fd.port": ("fd.cport", "fd.sport"), "fd.net": ("fd.cip", "fd.sip")}[name]
            return f"_pair({self.get(a)}, {self.get(b)})", name != "fd.net"
        if name in ("fd.snet", "fd.cnet", "fd.rnet", "fd.lnet"):
            return self.get(f"fd.{name[3]}ip"), False
        assert arg is not None
        if name in ("container.mount.source", "container.mount.dest"):
            other = "container.mount.dest" if name == "container.mount.source" else "container.mount.source"
            return f"_mount({self.get(name)}, {self.get(other)}, {arg.strip()!r})", False
        if name in ("jevt.value", "json.value"):
            if arg and not arg.startswith("/"):
                raise ConditionError(f"{name}[{arg}]: the argument must be a JSON pointer (/a/b)", ref.pos)
            parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in arg.split("/")[1:])
            return f"_jptr({self.get('jevt')}, {self.hoist('t', parts)})", False
        if name == "ka.req.volume.hostpath":
            return f"_kavol({self.get('ka.req.pod.volumes.hostpath')}, {arg!r})", False
        assert name == "ka.uri.param"
        return f"_uriparam({self.get('ka.uri')}, {arg!r})", False

    def field_type(self, ref: FieldRef) -> str:
        """The type a comparison sees for this reference (transformers make strings; lists compare by item)."""
        if ref.xforms:
            return "string"
        spec = FIELD_CATALOG[ref.name]
        if spec.type == "ilist":
            return "int"
        if spec.type in ("list", "dict", "json"):
            return "string"
        return spec.type

    def ipnet(self, node: Cmp, lhs: str) -> str:
        """CIDR comparison on an ipnet field: =, in, intersects (address in a network) and !=."""
        if node.op not in ("=", "!=", "in", "intersects"):
            raise ConditionError(f"operator '{node.op}' is not supported on the network field '{node.lhs.name}'",
                                 node.pos)
        if isinstance(node.rhs, FieldRef) or node.rhs is None:
            raise ConditionError(f"'{node.lhs.name}' compares with constant networks", node.pos)
        values = node.rhs if isinstance(node.rhs, tuple) else (node.rhs,)
        try:
            nets = tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)
        except ValueError as exc:
            raise ConditionError(f"not a network: {exc}", node.pos) from None
        v = self.tmp()
        packed = tuple((n.version, int(n.network_address), int(n.netmask)) for n in nets)
        test = f"_innet({v}, {self.hoist('n', packed)})"
        return f"(({v} := {lhs}) is not None and {'not ' if node.op == '!=' else ''}{test})"

    def coerce(self, value: str, ftype: str, pos: int) -> Any:
        """A condition's text constant as a value of the field's type (ConditionError when it is not one)."""
        if ftype == "int":
            try:
                return int(value, 0) if value.lower().startswith(("0x", "0o")) else int(value)
            except ValueError:
                raise ConditionError(f"expected a number, got {value!r}", pos) from None
        if ftype == "bool":
            low = value.lower()
            if low not in ("true", "false"):
                raise ConditionError(f"expected true or false, got {value!r}", pos)
            return low == "true"
        return value

    # ---- predicates
    def pred(self, v: str, op: str, rhs: Any, ftype: str, pos: int) -> str:
        """Source for ``v OP rhs`` on one scalar value ``v`` (never None here); rhs is a source expression
        (for val()) or an already-coerced constant / tuple."""
        if isinstance(rhs, _Expr):
            c = rhs.code
        elif op in ("in", "intersects", "pmatch"):
            c = ""
        else:
            c = repr(rhs) if isinstance(rhs, str | int | bool) else self.hoist("v", rhs)
        simple = _SIMPLE_PREDS.get(op)
        if simple is not None:
            return simple.format(v=v, c=c)
        if op == "icontains":
            c2 = repr(rhs.lower()) if isinstance(rhs, str) else f"{c}.lower()"
            return f"{c2} in {v}.lower()"
        return self._pattern_pred(v, op, rhs, pos)

    def _pattern_pred(self, v: str, op: str, rhs: Any, pos: int) -> str:
        """Predicates whose constant is compiled once and hoisted: glob, regex, sets, path prefixes."""
        if op in ("glob", "iglob"):
            if isinstance(rhs, _Expr):
                raise ConditionError(f"'{op}' needs a constant pattern", pos)
            flags = re.IGNORECASE if op == "iglob" else 0
            m = self.hoist("r", re.compile(fnmatch.translate(rhs), flags | re.DOTALL).match)
            return f"{m}({v}) is not None"
        if op == "regex":
            if isinstance(rhs, _Expr):
                raise ConditionError("'regex' needs a constant pattern", pos)
            m = self.hoist("r", compile_regex(rhs, pos))
            return f"{m}({v}) is not None"
        if op in ("in", "intersects"):
            return f"{v} in {self.hoist('s', frozenset(rhs))}"
        if op == "pmatch":
            exact = self.hoist("s", frozenset(p.rstrip("/") or "/" for p in rhs))
            prefixes = self.hoist("t", tuple(p if p.endswith("/") else p + "/" for p in rhs))
            return f"({v} in {exact} or {v}.startswith({prefixes}))"
        raise ConditionError(f"unknown operator '{op}'", pos)

    def cmp(self, node: Cmp) -> str:
        """Source for one comparison, with None (field absent) never matching."""
        lhs, multi = self.field(node.lhs)
        ftype = self.field_type(node.lhs)
        op = node.op
        if op == "exists":
            return f"({lhs} is not None)" if not multi else f"bool({lhs})"
        if ftype == "ipnet":
            return self.ipnet(node, lhs)
        if (node.lhs.name in DNS_NAME_FIELDS and op in ("=", "!=", "in") and not node.lhs.xforms
                and not isinstance(node.rhs, FieldRef) and node.rhs is not None):
            return self._dns_cmp(node)
        if op in _STRING_OPS and ftype == "int" and not multi and FIELD_CATALOG[node.lhs.name].source != "syscall":
            # an audit field that is a number under a text operator compares its decimal text: ka.response.code
            # startswith 2 (the k8saudit plugin types the code as a string, our catalog as a number for < and >)
            lhs, ftype = f"_istr({lhs})", "string"
        if op in _STRING_OPS and ftype not in ("string",):
            raise ConditionError(f"operator '{op}' needs a string field, '{node.lhs.text}' is {ftype}", node.pos)
        if op in _ORDER_OPS and ftype != "int":
            raise ConditionError(f"operator '{op}' needs a numeric field, '{node.lhs.text}' is {ftype}", node.pos)
        rhs, guard = self._rhs(node, ftype)
        v = self.tmp()
        if multi:
            ancestors = node.lhs.name in ANCESTOR_FIELDS
            if op in ("in", "intersects") and not isinstance(rhs, _Expr):
                s = self.hoist("s", frozenset(rhs))
                if op == "in" and not ancestors:
                    return f"(bool({v} := {lhs}) and {s}.issuperset({v}))"
                return f"(bool({v} := {lhs}) and not {s}.isdisjoint({v}))"
            x = self.tmp()
            return f"(bool({v} := {lhs}) and {guard}any({self.pred(x, op, rhs, ftype, node.pos)} for {x} in {v}))"
        if not guard and op == "=" and not isinstance(rhs, _Expr):
            return f"({lhs} == {rhs!r})" if isinstance(rhs, str | int | bool) else f"({lhs} == {self.hoist('v', rhs)})"
        if not guard and op in ("in", "intersects"):
            return f"({lhs} in {self.hoist('s', frozenset(rhs))})"
        return f"(({v} := {lhs}) is not None and {guard}{self.pred(v, op, rhs, ftype, node.pos)})"

    def _dns_cmp(self, node: Cmp) -> str:
        """fd.sip.name = / in / != NAMES, as Falco's DNS manager matches: against every watched name the address
        resolves to (not only the first, which is the field's value); != holds on an IP socket with none of them."""
        name = node.lhs.name
        vals = node.rhs if isinstance(node.rhs, tuple) else (node.rhs,)
        s = self.hoist("s", frozenset(str(v) for v in vals))
        names = f"_dnsnames({self.get(name + 's')}, {self.get(name)})"
        if node.op == "!=":
            return f"({self.get(DNS_NAME_FIELDS[name])} is not None and {s}.isdisjoint({names}))"
        return f"(not {s}.isdisjoint({names}))"

    def _rhs(self, node: Cmp, ftype: str) -> tuple[Any, str]:
        """(right-hand side, guard): a coerced constant or tuple, or val(field) as an expression with the guard
        that it is not None."""
        op = node.op
        if isinstance(node.rhs, FieldRef):
            if op in ("in", "intersects", "pmatch"):
                raise ConditionError(f"'{op}' needs a list of values, not val()", node.pos)
            rcode, rmulti = self.field(node.rhs)
            if rmulti:
                raise ConditionError(f"val({node.rhs.text}) is multi-valued", node.pos)
            w = self.tmp()
            return _Expr(w), f"({w} := {rcode}) is not None and "
        if isinstance(node.rhs, tuple):
            if op not in ("in", "intersects", "pmatch", "startswith", "endswith"):  # the last two: merged by _merge_or
                raise ConditionError(f"operator '{op}' takes one value, not a list", node.pos)
            return tuple(self.coerce(x, ftype, node.pos) for x in node.rhs), ""
        assert node.rhs is not None
        if op in ("in", "intersects", "pmatch"):
            return (self.coerce(node.rhs, ftype, node.pos),), ""
        if op in ("bcontains", "bstartswith"):
            try:
                return bytes.fromhex(node.rhs), ""
            except ValueError:
                raise ConditionError(f"'{op}' needs hex bytes, got {node.rhs!r}", node.pos) from None
        return self.coerce(node.rhs, ftype, node.pos), ""

    def expr(self, node: Node, etype: str | None) -> str | bool:
        """Source for ``node``, or a bool when it folds to a constant for event type ``etype``."""
        if isinstance(node, Cmp):
            if etype is not None and node.lhs.name == "evt.type" and not node.lhs.xforms:
                folded = fold_evt_type(node, etype)
                if folded is not None:
                    return folded
            return self.cmp(node)
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Not):
            inner = self.expr(node.item, etype)
            return (not inner) if isinstance(inner, bool) else f"(not {inner})"
        if isinstance(node, And | Or):
            is_and = isinstance(node, And)
            parts: list[str] = []
            for item in (node.items if is_and else self._merge_or(node.items)):
                sub = self.expr(item, etype)
                if isinstance(sub, bool):
                    if sub is not is_and:  # False in an and / True in an or decides it
                        return sub
                    continue
                parts.append(sub)
            if not parts:
                return is_and
            return parts[0] if len(parts) == 1 else "(" + (" and " if is_and else " or ").join(parts) + ")"
        assert isinstance(node, MacroRef)
        raise ConditionError(f"undefined macro '{node.name}'", node.pos)


    def _merge_or(self, items: tuple[Node, ...]) -> list[Node]:
        """Merge ``f = a or f = b`` into ``f in (a, b)`` and ``f startswith a or f startswith b`` into one call
        with a tuple (one field read, one C-level loop). Only single-valued string fields without val()."""
        groups: dict[tuple[str, str | None, tuple[str, ...], str], list[str]] = {}
        for it in items:
            if (isinstance(it, Cmp) and it.op in ("=", "startswith", "endswith") and isinstance(it.rhs, str)
                    and it.lhs.name != "evt.type" and self.field_type(it.lhs) == "string"
                    and FIELD_CATALOG[it.lhs.name].type not in _MULTI_TYPES and it.lhs.name not in ANCESTOR_FIELDS):
                groups.setdefault((it.lhs.name, it.lhs.arg, it.lhs.xforms, it.op), []).append(it.rhs)
        if all(len(v) < 2 for v in groups.values()):
            return list(items)
        out: list[Node] = []
        done: set[tuple[str, str | None, tuple[str, ...], str]] = set()
        for it in items:
            key = (it.lhs.name, it.lhs.arg, it.lhs.xforms, it.op) if isinstance(it, Cmp) else None
            if key is None or key not in groups or len(groups[key]) < 2:
                out.append(it)
            elif key not in done:
                done.add(key)
                assert isinstance(it, Cmp)
                out.append(Cmp(it.lhs, "in" if it.op == "=" else it.op, tuple(groups[key]), it.pos))
        return out


class _Expr:
    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code


def fold_evt_type(node: Cmp, etype: str) -> bool | None:
    """The value of an ``evt.type`` comparison for events of type ``etype`` (None: not foldable)."""
    if isinstance(node.rhs, FieldRef):
        return None
    if node.op == "=" and isinstance(node.rhs, str):
        return etype == node.rhs
    if node.op == "!=" and isinstance(node.rhs, str):
        return etype != node.rhs
    if node.op in ("in", "intersects") and isinstance(node.rhs, tuple):
        return etype in node.rhs
    return None


def event_types(node: Node) -> frozenset[str] | None:
    """The evt.type values a condition can match (None: any), derived as Falco does."""
    if isinstance(node, Cmp):
        if node.lhs.name == "evt.type" and not node.lhs.xforms:
            if node.op == "=" and isinstance(node.rhs, str):
                return frozenset({node.rhs})
            if node.op in ("in", "intersects") and isinstance(node.rhs, tuple):
                return frozenset(node.rhs)
        return None
    if isinstance(node, Const):
        return None if node.value else frozenset()
    if isinstance(node, And):
        result: frozenset[str] | None = None
        for item in node.items:
            sub = event_types(item)
            if sub is not None:
                result = sub if result is None else result & sub
        return result
    if isinstance(node, Or):
        acc: set[str] = set()
        for item in node.items:
            sub = event_types(item)
            if sub is None:
                return None
            acc |= sub
        return frozenset(acc)
    return None


_READ = re.compile("\x00([^\x00]+)\x00")
_ITEM = re.compile("\x02([^\x02]+)\x02")
_LAZY = re.compile("\x03([^\x03]+)\x03")
_TMP = re.compile("\x01(\\d+)\x01")
#: a temporary assigned a field read or item (``(_v7 := READ)``): just the prefetched local when there is one
_TMP_OF_READ = re.compile("\x01(\\d+)\x01 := ([\x00\x02])([^\x00\x02]+)\\2")


def resolve_reads(lines: list[str], prefetch: bool, getter: str = "g") -> list[str]:
    """Replace field-read markers. With ``prefetch``, a field read by two or more lines (rules: each condition is
    one line) is read once into a local at the top of the function; a field only one rule reads is read where it
    is, so an event that rule's earlier tests rule out never reads it (audit sources compute some fields on first
    read). ``getter``: the expression a read calls (``g``, the function's ``f.get`` bound once, or ``f.get``
    itself, cheaper for a function that reads one or two fields). Constants are repr()'d, so they never contain
    the NUL markers."""
    counts: dict[str, int] = {}
    for line in lines:
        for key in {m.group(1) for m in _READ.finditer(line)} | {m.group(1) for m in _ITEM.finditer(line)}:
            counts[key] = counts.get(key, 0) + 1
    local = {k: f"_f{i}" for i, k in enumerate(sorted(k for k, n in counts.items() if n >= 2))} if prefetch else {}

    alias: dict[str, str] = {}

    def sub_tmp_of_read(m: re.Match[str]) -> str:
        var = local.get(m.group(3))
        if var is None:
            return m.group(0)
        alias[m.group(1)] = var  # `(_v7 := prefetched)` is just the prefetched local
        return var

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        return local.get(key) or f"{getter}({key!r})"

    def sub_item(m: re.Match[str]) -> str:
        key = m.group(1)
        return local.get(key) or f"f[{key!r}]"

    def reads(line: str) -> str:
        return _LAZY.sub(sub, _ITEM.sub(sub_item, _READ.sub(sub, line)))

    body = [_TMP_OF_READ.sub(sub_tmp_of_read, line) for line in lines]
    body = [_TMP.sub(lambda m: alias.get(m.group(1)) or f"_v{m.group(1)}", reads(line)) for line in body]
    head = [f"    {var} = g({key!r})" for key, var in local.items()]
    return body[:2] + head + body[2:]


def check_compiles(code: str) -> None:
    """Compile one condition's source alone; raises SyntaxError/RecursionError when Python cannot take it."""
    code = _TMP.sub(lambda m: f"_v{m.group(1)}", _READ.sub(lambda m: f"g({m.group(1)!r})", code))
    compile(code, "<condition>", "eval")


class Splice:
    """What a detector's per-event-type check may use when it is spliced into the rules' generated code for that
    type (:meth:`RuleSet.fused_dispatch`): field reads shared with the rules (a field the rules also read is read
    once per event, into a local), fresh locals, and objects of its own (bound by name in the function's globals).
    """

    def __init__(self, gen: CodeGen, ns: dict[str, Any]) -> None:
        self._gen = gen
        self.ns = ns

    @staticmethod
    def field(key: str) -> str:
        """The expression reading raw field ``key`` of the event (None when absent)."""
        return CodeGen.get(key)

    @staticmethod
    def item(key: str) -> str:
        """The expression reading raw field ``key`` of the event where the producer always sets it: a subscript
        (no method call) that raises KeyError when it is absent, which hands the event to the detector (so a
        check built with it must only be used where an absent field may take the slow path). A field the rules
        also read is their prefetched local (None when absent), so the check must also hold for None."""
        return f"\x02{key}\x02"

    @staticmethod
    def fallback(key: str) -> str:
        """The expression reading raw field ``key`` where the check needs it only sometimes (a fallback after
        ``or``): the rules' prefetched local when they read it anyway, else a read at that point, never a prefetch
        of its own (which would read it for every event)."""
        return f"\x03{key}\x03"

    def local(self) -> str:
        """A fresh local variable name (assign it with ``:=``)."""
        return self._gen.tmp()

    def obj(self, value: Any) -> str:
        """A global name bound to ``value`` in the generated function."""
        name = f"_det{len(self.ns)}"
        self.ns[name] = value
        return name


#: a detector's check for one event type: (the mark appended to the hits when it must run, the code of the test
#: that says so, built with a Splice; None, or a test of None: always)
Tail = tuple[int, Callable[[Splice], str | None] | None]


def build_dispatch(gen: CodeGen, name: str, conds: list[tuple[int, Node]], etype: str | None,
                   tails: list[Tail] | None = None, fused_ns: dict[str, Any] | None = None) -> DispatchFn:
    """One function evaluating the given (rule index, condition) pairs for events of type ``etype``. ``tails``:
    detectors' checks fused after the rules (their marks follow the rule indexes in the result); the function is
    then defined in ``fused_ns``, a copy of the rules' namespace (a new one when not given), so the detectors'
    objects never reach the rules' own."""
    ns = gen.ns if not tails else fused_ns if fused_ns is not None else dict(gen.ns)
    if not conds and tails and len(tails) == 1 and tails[0][1] is not None:
        lean = _lean_dispatch(gen, name, ns, tails[0])
        if lean is not None:
            return lean
    lines = ["def _dispatch(f, t, ts):", "    g = f.get", "    r = []"]
    for idx, node in conds:
        code = gen.expr(node, etype)
        if code is False:
            continue
        if code is True:
            lines.append(f"    r.append({idx})")
            continue
        lines += ["    try:", f"        if {code}:", f"            r.append({idx})",
                  "    except Exception:", f"        _err({idx})"]
    for mark, test in tails or ():
        check = test(Splice(gen, ns)) if test is not None else None
        if check is None:
            lines.append(f"    r.append({mark})")
            continue
        # a check that raises (a malformed recorded field) hands the event to the detector, as without the splice
        lines += ["    try:", f"        if {check}:", f"            r.append({mark})",
                  "    except Exception:", f"        r.append({mark})"]
    lines.append("    return r")
    return _define(gen, name, ns, resolve_reads(lines, prefetch=True))


def _lean_dispatch(gen: CodeGen, name: str, ns: dict[str, Any], tail: Tail) -> DispatchFn | None:
    """The dispatch function of an event type no rule reads and one detector watches: its check alone, no list
    built unless it says the detector must see the event (the common answer is a shared empty tuple)."""
    mark, test = tail
    assert test is not None
    check = test(Splice(gen, ns))
    if check is None:
        return None
    ns["_NOHITS"] = ()
    # no `g = f.get`: binding a method costs more than the one or two reads such a check makes through it
    body = resolve_reads(["def _dispatch(f, t, ts):", "    try:", f"        if {check}:", f"            return [{mark}]",
                          "    except Exception:", f"        return [{mark}]", "    return _NOHITS"], prefetch=False,
                         getter="f.get")
    return _define(gen, name, ns, body)


def _define(gen: CodeGen, name: str, ns: dict[str, Any], lines: list[str]) -> DispatchFn:
    src = "\n".join(lines)
    gen.sources[name] = src
    try:
        code_obj = compile(src, f"<rules:{name}>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:  # pragma: no cover - nesting beyond Python's limits
        raise ConditionError(f"condition too complex to compile: {exc}", 0) from None
    exec(code_obj, ns)  # noqa: S102 - generated from a parsed AST, every constant is repr()'d or hoisted
    fn: DispatchFn = ns.pop("_dispatch")
    return fn


def build_getter(gen: CodeGen, refs: list[FieldRef]) -> Callable[[Mapping[str, Any], str, int], tuple[Any, ...]]:
    """A function returning the values of ``refs`` for one event (used for outputs)."""
    body = ", ".join(gen.field(r)[0] for r in refs)
    src = "\n".join(resolve_reads(["def _get(f, t, ts):", "    g = f.get", f"    return ({body}{',' if refs else ''})"],
                                   prefetch=False))
    exec(compile(src, "<rules:output>", "exec"), gen.ns)  # noqa: S102 - generated from parsed field refs
    fn: Callable[[Mapping[str, Any], str, int], tuple[Any, ...]] = gen.ns.pop("_get")
    return fn
