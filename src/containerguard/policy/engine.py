"""Compiled policies and their evaluation per stage (CEL through the Rust-backed ``common-expression-language``).

Why that library: on our expressions it agrees with cel-python everywhere cel-python is right, also gets
mixed int/double comparison right (``image.age_days > 365.5``; cel-python raises "no matching
overload"), and is 5-10x faster per evaluation on deploy documents and 1,000x+ on build documents with
hundreds of findings, once the document is converted to a ``cel.Context`` (done once per document, shared by
every policy). See bench/policy_cel_compare.py for the figures.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cel

from containerguard.policy.model import Action, Decision, OnError, Policy, Stage, Violation

#: the top-level names a condition may use (the input document's keys; ``params.NAME`` is bound at compile time)
VARIABLES = frozenset({"version", "stage", "image", "findings", "packages", "misconfigurations", "secrets",
                       "container", "workload", "alert"})
_BOUND_RE = re.compile(r"\.\s*(?:exists_one|exists|all|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
MAX_DETAILS = 50


_PARAM_RE = re.compile(r"\bparams\.([A-Za-z_]\w*)")


def cel_literal(value: Any) -> str:
    """``value`` (JSON-like: from a policy's ``params``) as a CEL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are CEL string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {cel_literal(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"a param value must be JSON-like, not {type(value).__name__}")


def bind_params(text: str, params: Mapping[str, Any]) -> str:
    """Replace ``params.NAME`` by the literal value: the program then carries constants (no per-evaluation
    conversion of the params, and constant regexes). An unknown NAME is an error at load time."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise ValueError(f"params.{name} is not defined in the policy's params")
        return f"({cel_literal(params[name])})"

    return _PARAM_RE.sub(sub, text)


#: the longest expression compiled (before ``params`` are bound). The CEL library recurses once per level of the
#: syntax tree, in native code: a chain of ~20,000 terms ("1+1+1...", "a.b.b...") overflows the stack and kills
#: the process (a segfault, no exception) at compile or at evaluation. 16 KiB keeps every tree under ~8,200 levels,
#: which both pass; long lists belong in ``params``.
MAX_EXPRESSION_CHARS = 16 * 1024


#: the most iterations a condition's nested comprehensions may be estimated to take (see comprehension_cost).
#: The library evaluates holding the GIL and has no cost limit: three nested maps over 40-element lists took
#: 1.2 s, over 200-element lists minutes, with the webhook or the authz plugin (and dockerd behind it) stalled.
MAX_COMPREHENSION_COST = 100_000
#: the size assumed for a list comprehended over that is not a literal (findings, packages, mounts, a map result)
ASSUMED_LIST_SIZE = 100
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_STRING = "|".join((r"'''(?:\\.|[^\\])*?'''", r'"""(?:\\.|[^\\])*?"""', r"'(?:\\.|[^\\'\n])*'", r'"(?:\\.|[^\\"\n])*"'))
_TOKEN_RE = re.compile(rf"\s+|(?P<str>[rRbB]{{0,2}}(?:{_STRING}))|(?P<id>[A-Za-z_]\w*)|(?P<p>[()\[\]{{}},.])|(?P<o>.)", re.S)


def comprehension_cost(text: str) -> int:
    """A static estimate of the iterations of an expression's nested comprehensions: the product of the range
    sizes along the deepest nesting, a literal list counting its elements and any other range
    :data:`ASSUMED_LIST_SIZE` (Kubernetes estimates CEL cost the same way before it admits an expression)."""
    toks = [(m.lastgroup, m.group()) for m in _TOKEN_RE.finditer(text) if m.lastgroup]
    stack: list[tuple[int, int, list[int]]] = []  # (range weight, index, [commas, items seen]) per open bracket
    prod, worst = 1, 1
    sizes: dict[int, int] = {}  # index of a closing bracket -> elements of the literal list it ends
    for i, (kind, tok) in enumerate(toks):
        if kind == "p" and tok in "([{":
            weight = 1
            if tok == "(" and i >= 3 and toks[i - 1][1] in _MACROS and toks[i - 2][1] == ".":
                weight = sizes.get(i - 3, ASSUMED_LIST_SIZE)
            if stack:
                stack[-1][2][1] = 1
            stack.append((max(weight, 1), i, [0, 0]))
            prod *= max(weight, 1)
            worst = max(worst, prod)
        elif kind == "p" and tok in ")]}":
            if not stack:
                continue
            weight, start, (commas, seen) = stack.pop()
            prod //= weight
            if tok == "]":
                sizes[i] = commas + seen
            elif tok == ")" and toks[start + 1][1] == "[" and (i - 1) in sizes and toks[i - 1][1] == "]" \
                    and _opening(toks, i - 1) == start + 1:
                sizes[i] = sizes[i - 1]  # a bound param: ([...])
        elif stack and tok == ",":
            stack[-1][2][0] += 1
        elif stack:
            stack[-1][2][1] = 1
    return worst


def _opening(toks: Sequence[tuple[str | None, str]], close: int) -> int:
    """The index of the bracket that the one at ``close`` closes."""
    depth = 0
    for j in range(close, -1, -1):
        kind, tok = toks[j]
        if kind == "p" and tok in ")]}":
            depth += 1
        elif kind == "p" and tok in "([{":
            depth -= 1
            if depth == 0:
                return j
    return -1


def compile_expression(text: str, params: Mapping[str, Any] | None = None) -> tuple[Any, frozenset[str]]:
    """Compile a CEL expression (its ``params.NAME`` bound to ``params``); return the program and the document
    names it reads. Raises ValueError with the parser's message (first line) or naming an unknown variable."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"the expression is {len(text)} characters long, more than the {MAX_EXPRESSION_CHARS} "
                         "allowed (put long lists in the policy's params)")
    text = bind_params(text, params or {})
    cost = comprehension_cost(text)
    if cost > MAX_COMPREHENSION_COST:
        raise ValueError(f"its nested comprehensions are estimated at {cost:,} iterations, more than the "
                         f"{MAX_COMPREHENSION_COST:,} allowed (a list that is not a literal counts "
                         f"{ASSUMED_LIST_SIZE}): nest fewer levels or compare with 'in' on a list")
    try:
        program = cel.compile(text)
    except BaseException as exc:  # the binding raises ValueError; a Rust panic surfaces as PanicException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        msg = lines[0] if lines else type(exc).__name__
        detail = next((ln.strip() for ln in lines[1:] if "ERROR" in ln), "")
        raise ValueError(f"{msg}{' -- ' + detail if detail else ''}") from None
    bound = set(_BOUND_RE.findall(text))
    names = frozenset(program.variables()) - bound
    unknown = sorted(names - VARIABLES)
    if unknown:
        raise ValueError(f"unknown name(s) {', '.join(unknown)} (the input document has {', '.join(sorted(VARIABLES))})")
    return program, names


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no such key {exc.args[0]!r}" if exc.args else "no such key"
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {first}"


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    program: Any
    details_program: Any | None
    names: frozenset[str]

    @property
    def selective(self) -> bool:
        """Whether scope or exclusions may leave a document out (else both checks are skipped)."""
        s = self.policy.scope
        return bool(s.registries or s.repositories or s.namespaces or s.labels or self.policy.exclusions)


class PolicySet:
    """Policies compiled once, indexed by stage. :meth:`evaluate` is safe to call from one thread at a time
    per call (no shared mutable state between calls)."""

    def __init__(self, policies: Sequence[CompiledPolicy], *, warnings: Sequence[str] = ()) -> None:
        self.compiled = tuple(policies)
        self.load_warnings = tuple(warnings)
        self._by_stage: dict[Stage, tuple[CompiledPolicy, ...]] = {
            s: tuple(cp for cp in self.compiled if cp.policy.enabled and s in cp.policy.enforcement) for s in Stage}
        self._names: dict[Stage, frozenset[str]] = {
            s: frozenset().union(*(cp.names for cp in self._by_stage[s])) for s in Stage}

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(cp.policy for cp in self.compiled)

    def get(self, policy_id: str) -> Policy | None:
        return next((cp.policy for cp in self.compiled if cp.policy.id == policy_id), None)

    def for_stage(self, stage: Stage) -> tuple[Policy, ...]:
        return tuple(cp.policy for cp in self._by_stage[stage])

    def with_enforcement(self, stage: Stage, action: Action, only: Iterable[str] | None = None) -> PolicySet:
        """A copy whose ``stage`` enforcement is ``action`` (for the policies in ``only``, default all)."""
        import dataclasses

        want = set(only) if only is not None else None
        out = []
        for cp in self.compiled:
            p = cp.policy
            if stage in p.enforcement and (want is None or p.id in want):
                p = dataclasses.replace(p, enforcement={**p.enforcement, stage: action})
            out.append(dataclasses.replace(cp, policy=p))
        return PolicySet(out, warnings=self.load_warnings)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, doc: Mapping[str, Any], stage: Stage, *, subject: str = "",
                 today: dt.date | None = None, only: Iterable[str] | None = None) -> Decision:
        """Evaluate the ``stage`` policies over one input document (see :mod:`containerguard.policy.inputs`)."""
        today = today or dt.datetime.now(dt.UTC).date()
        want = set(only) if only is not None else None
        violations: list[Violation] = []
        warnings: list[str] = []
        ctx: Any = None
        evaluated = 0
        subject = subject or _default_subject(doc)
        for cp in self._by_stage[stage]:
            p = cp.policy
            if want is not None and p.id not in want:
                continue
            if cp.selective:
                if not in_scope(p, doc):
                    continue
                excluded, expired = exclusion_of(p, doc, today)
                for ex in expired:
                    warnings.append(f"{p.id}: exclusion expired on {ex.expires} no longer applies ({ex.reason})")
                if excluded is not None:
                    continue
            if ctx is None:
                ctx = cel.Context(variables={k: doc[k] for k in self._names[stage] if k in doc})
            evaluated += 1
            action = p.enforcement[stage]
            try:
                result = cp.program.execute(ctx)
                if not isinstance(result, bool):
                    raise TypeError(f"the condition gave {type(result).__name__} {result!r}, not a bool")
            except Exception as exc:
                err = describe_error(exc)
                if p.on_error is OnError.FAIL_OPEN:
                    warnings.append(f"{p.id}: condition failed on {subject} and the policy fails open: {err}")
                    continue
                violations.append(Violation(p.id, p.name, p.severity, action, subject,
                                            f"{p.description} (the condition could not be evaluated and the "
                                            f"policy fails closed: {err})", p.remediation, (), err))
                continue
            if result:
                violations.append(Violation(p.id, p.name, p.severity, action, subject, p.description,
                                            p.remediation, self._details(cp, ctx)))
        return Decision(stage, tuple(violations), tuple(warnings), evaluated)

    @staticmethod
    def _details(cp: CompiledPolicy, ctx: Any) -> tuple[str, ...]:
        if cp.details_program is None:
            return ()
        try:
            value = cp.details_program.execute(ctx)
        except Exception as exc:
            return (f"(details could not be computed: {describe_error(exc)})",)
        items = value if isinstance(value, list) else [value]
        out = [str(v) for v in items[:MAX_DETAILS]]
        if len(items) > MAX_DETAILS:
            out.append(f"... and {len(items) - MAX_DETAILS} more")
        return tuple(out)

    def evaluate_many(self, docs: Iterable[tuple[str, Mapping[str, Any]]], stage: Stage, *,
                      today: dt.date | None = None) -> Decision:
        out = Decision(stage)
        for subject, doc in docs:
            out = out.merge(self.evaluate(doc, stage, subject=subject, today=today))
        return out


def _default_subject(doc: Mapping[str, Any]) -> str:
    img = doc.get("image") if isinstance(doc.get("image"), Mapping) else {}
    assert isinstance(img, Mapping)
    return str(img.get("name") or "") or str(doc.get("stage", ""))


def _glob(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pat) for pat in patterns)


def _image_names(doc: Mapping[str, Any]) -> list[str]:
    img = doc.get("image") or {}
    reg, repo = str(img.get("registry", "")), str(img.get("repository", ""))
    names = [str(img.get("name", "")), repo, f"{reg}/{repo}" if reg else repo]
    alert = doc.get("alert") or {}
    if alert.get("image"):
        names.append(str(alert["image"]))
    return [n for n in names if n]


def _namespace(doc: Mapping[str, Any]) -> str:
    return str((doc.get("workload") or {}).get("namespace") or (doc.get("alert") or {}).get("namespace") or "")


def in_scope(p: Policy, doc: Mapping[str, Any]) -> bool:
    s = p.scope
    img = doc.get("image") or {}
    if s.registries and not _glob(str(img.get("registry", "")), s.registries):
        return False
    if s.repositories and not any(_glob(n, s.repositories) for n in _image_names(doc)):
        return False
    if s.namespaces and not _glob(_namespace(doc), s.namespaces):
        return False
    if s.labels:
        labels = {**(img.get("labels") or {}), **((doc.get("workload") or {}).get("labels") or {})}
        for k, v in s.labels.items():
            if k not in labels or (v != "*" and str(labels[k]) != v):
                return False
    return True


def exclusion_of(p: Policy, doc: Mapping[str, Any], today: dt.date) -> tuple[Any, list[Any]]:
    """The first live exclusion that covers ``doc`` (or None), and the expired ones that would have."""
    expired = []
    wl = doc.get("workload") or {}
    for ex in p.exclusions:
        if ex.images and not any(_glob(n, ex.images) for n in _image_names(doc)):
            continue
        if ex.namespaces and not _glob(_namespace(doc), ex.namespaces):
            continue
        if ex.workloads and not _glob(f"{wl.get('kind', '')}/{wl.get('name', '')}", ex.workloads):
            continue
        if ex.expired(today):
            expired.append(ex)
            continue
        return ex, expired
    return None, expired

