"""A hand-written recursive-descent parser for Falco conditions (fast to load, exact column errors).

Grammar (Falco's precedence: ``not`` > ``and`` > ``or``)::

    expr    := and ('or' and)*
    and     := unary ('and' unary)*
    unary   := 'not' unary | '(' expr ')' | cmp | MACRO
    cmp     := lhs OP rhs | lhs 'exists'
    lhs     := FIELD ['[' ARG ']'] | XFORM '(' lhs ')'
    rhs     := VALUE | 'val(' lhs ')' | '(' VALUE (',' VALUE)* ')' | LISTNAME

Bare list names inside value lists (and after ``in``/``intersects``/``pmatch``) expand to the list's items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from containerguard.runtime.rules.ast import And, Cmp, FieldRef, MacroRef, Node, Not, Or
from containerguard.runtime.rules.fields import ANCESTOR_FIELDS, FIELD_CATALOG, lookup

BINARY_OPS = frozenset({
    "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith", "glob", "iglob",
    "in", "intersects", "pmatch", "bcontains", "bstartswith", "regex",
})
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
TRANSFORMERS = frozenset({"tolower", "toupper", "basename", "b64"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_SYM_OPS = ("==", "!=", "<=", ">=", "=", "<", ">")
_BARE_STOP = frozenset(" \t\r\n(),")
#: Deepest nesting of parentheses / not accepted (the generated Python must stay within the compiler's limits).
MAX_DEPTH = 60
#: Most values one value list may expand to (list names inside it expand to their items).
MAX_VALUES = 1_000_000


class ConditionError(Exception):
    """A syntax or field error at character offset ``pos`` of the condition text."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _Parser:
    def __init__(self, text: str, lists: Mapping[str, tuple[str, ...]]) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.depth = 0
        self.lists = lists

    # ---------------------------------------------------------------- scanning
    def ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in " \t\r\n":
            i += 1
        self.i = i

    def peek_word(self) -> str | None:
        self.ws()
        m = _WORD.match(self.s, self.i)
        return m.group(0) if m else None

    def keyword(self, kw: str) -> bool:
        """Consume keyword ``kw`` if it is next as a whole word."""
        self.ws()
        end = self.i + len(kw)
        if self.s.startswith(kw, self.i) and (end >= self.n or not (self.s[end].isalnum() or self.s[end] in "_.-")):
            self.i = end
            return True
        return False

    def expect(self, ch: str) -> None:
        self.ws()
        if not self.s.startswith(ch, self.i):
            got = self.s[self.i] if self.i < self.n else "end of condition"
            raise ConditionError(f"expected '{ch}', got '{got}'", self.i)
        self.i += len(ch)

    def fail_unexpected(self) -> ConditionError:
        if self.i >= self.n:
            return ConditionError("unexpected end of condition", self.i)
        m = _WORD.match(self.s, self.i)
        tok = m.group(0) if m else self.s[self.i]
        return ConditionError(f"unexpected '{tok}'", self.i)

    # ---------------------------------------------------------------- grammar
    def parse(self) -> Node:
        node = self.expr()
        self.ws()
        if self.i < self.n:
            if self.s[self.i] == ")":
                raise ConditionError("unbalanced ')'", self.i)
            raise self.fail_unexpected()
        return node

    def expr(self) -> Node:
        items = [self.conj()]
        while self.keyword("or"):
            items.append(self.conj())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conj(self) -> Node:
        items = [self.unary()]
        while self.keyword("and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"condition nested too deeply (more than {MAX_DEPTH} levels)", self.i)
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Node:
        if self.keyword("not"):
            return Not(self.unary())
        self.ws()
        if self.i < self.n and self.s[self.i] == "(":
            start = self.i
            self.i += 1
            node = self.expr()
            self.ws()
            if self.i >= self.n:
                raise ConditionError("unclosed '(' (opened here)", start)
            self.expect(")")
            return node
        return self.comparison_or_macro()

    def comparison_or_macro(self) -> Node:
        self.ws()
        start = self.i
        word = self.peek_word()
        if word is None or word in ("and", "or"):
            raise self.fail_unexpected()
        after = self.i + len(word)
        is_xform = word in TRANSFORMERS and self.s.startswith("(", after)
        has_arg = self.s.startswith("[", after)
        if not is_xform and not has_arg and "." not in word:
            # a macro unless an operator follows
            self.i = after
            op = self.operator(required=False)
            if op is None:
                return MacroRef(word, start)
            self.i = start
        lhs = self.lhs()
        op = self.operator(required=True)
        assert op is not None
        if op == "exists":
            return Cmp(lhs, op, None, start)
        return Cmp(lhs, op, self.rhs(op), start)

    def lhs(self) -> FieldRef:
        self.ws()
        start = self.i
        word = self.peek_word()
        if word is None:
            raise ConditionError("expected a field", self.i)
        self.i += len(word)
        if word in TRANSFORMERS and self.s.startswith("(", self.i):
            self.i += 1
            inner = self.lhs()
            self.expect(")")
            return FieldRef(inner.name, inner.arg, (*inner.xforms, word), start)
        arg: str | None = None
        if self.s.startswith("[", self.i):
            close = self.s.find("]", self.i)
            if close < 0:
                raise ConditionError(f"unclosed '[' after '{word}'", self.i)
            arg = self.s[self.i + 1 : close]
            self.i = close + 1
        found = lookup(word)
        if found is None:
            raise ConditionError(f"unknown field '{word}'", start)
        name, dotted_arg = found
        if dotted_arg is not None:
            if arg is not None:
                raise ConditionError(f"field '{word}' takes no [argument]", start)
            arg = dotted_arg
        _check_arg(name, arg, start)
        return FieldRef(name, arg, (), start)

    def operator(self, required: bool) -> str | None:
        self.ws()
        for sym in _SYM_OPS:
            if self.s.startswith(sym, self.i):
                self.i += len(sym)
                return "=" if sym == "==" else sym
        word = self.peek_word()
        if word is not None and (word in BINARY_OPS or word == "exists"):
            self.i += len(word)
            return word
        if not required:
            return None
        if word is None or word in ("and", "or", "not"):
            raise ConditionError("expected an operator", self.i)
        raise ConditionError(f"unknown operator '{word}'", self.i)

    def value(self) -> str:
        """One quoted or bare value."""
        self.ws()
        if self.i >= self.n:
            raise ConditionError("expected a value, got end of condition", self.i)
        q = self.s[self.i]
        if q in "'\"":
            out: list[str] = []
            j = self.i + 1
            while j < self.n and self.s[j] != q:
                if self.s[j] == "\\" and j + 1 < self.n:
                    j += 1
                out.append(self.s[j])
                j += 1
            if j >= self.n:
                raise ConditionError("unterminated string", self.i)
            self.i = j + 1
            return "".join(out)
        j = self.i
        while j < self.n and self.s[j] not in _BARE_STOP:
            j += 1
        if j == self.i:
            raise ConditionError(f"expected a value, got '{self.s[self.i]}'", self.i)
        v = self.s[self.i : j]
        self.i = j
        return v

    def rhs(self, op: str) -> str | tuple[str, ...] | FieldRef:
        self.ws()
        if self.s.startswith("val(", self.i):
            self.i += 4
            ref = self.lhs()
            self.expect(")")
            return ref
        if op in LIST_OPS:
            if self.i < self.n and self.s[self.i] == "(":
                return self.value_list()
            v = self.value()
            return self.lists.get(v, (v,))
        return self.value()

    def value_list(self) -> tuple[str, ...]:
        start = self.i
        self.expect("(")
        items: list[str] = []
        self.ws()
        if self.s.startswith(")", self.i):
            self.i += 1
            return ()
        while True:
            self.ws()
            if self.i >= self.n:
                raise ConditionError("unclosed '(' in value list", start)
            quoted = self.s[self.i] in "'\""
            v = self.value()
            if not quoted and v in self.lists:
                items.extend(self.lists[v])
                if len(items) > MAX_VALUES:  # a big list named again and again
                    raise ConditionError(f"value list has more than {MAX_VALUES} items", start)
            else:
                items.append(v)
            self.ws()
            if self.i >= self.n:
                raise ConditionError("unclosed '(' in value list", start)
            if self.s[self.i] == ",":
                self.i += 1
                continue
            if self.s[self.i] == ")":
                self.i += 1
                return tuple(items)
            raise ConditionError(f"expected ',' or ')' in value list, got '{self.s[self.i]}'", self.i)


def _check_arg(name: str, arg: str | None, pos: int) -> None:
    """The field's [argument] as its catalog row says (none, optional, required), checked where the field is
    written (a condition, an exception's fields, an output), so a mistake is a file:line error there."""
    spec = FIELD_CATALOG[name]
    if arg is None:
        if spec.arg == "required":
            raise ConditionError(f"field '{name}' needs an [argument]", pos)
        return
    if spec.arg == "none":
        raise ConditionError(f"field '{name}' takes no [argument]", pos)
    if spec.type == "json":
        if arg and not arg.startswith("/"):
            raise ConditionError(f"{name}[{arg}]: the argument must be a JSON pointer (/a/b)", pos)
        return
    if not arg.strip():
        raise ConditionError(f"field '{name}': empty [argument]", pos)
    if name in ANCESTOR_FIELDS and not arg.strip().isdigit():
        raise ConditionError(f"{name}[{arg}]: the argument must be a number", pos)


def parse_condition(text: str, lists: Mapping[str, tuple[str, ...]] | None = None) -> Node:
    """Parse ``text`` into an AST. Raises :class:`ConditionError` with the offending offset."""
    if not text.strip():
        raise ConditionError("empty condition", 0)
    return _Parser(text, lists or {}).parse()


def parse_field(text: str) -> FieldRef:
    """Parse a lone field reference (as in exception ``fields`` and output ``%field``)."""
    p = _Parser(text.strip(), {})
    ref = p.lhs()
    p.ws()
    if p.i < p.n:
        raise ConditionError(f"unexpected '{p.s[p.i:]}' after field", p.i)
    return ref


def position(text: str, pos: int) -> tuple[int, int]:
    """(line offset, 1-based column) of character ``pos`` in ``text``."""
    before = text[:pos]
    line_off = before.count("\n")
    col = pos - (before.rfind("\n") + 1) + 1
    return line_off, col
