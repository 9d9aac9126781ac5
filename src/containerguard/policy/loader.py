"""Load policy files: read (YAML with line marks, no aliases) -> validate (schema) -> compile (CEL) -> PolicySet.

Every error names its file and line. The default set (``defaults/*.yaml`` in this package) loads first;
a user policy with the id of a default one replaces it (that is how a warning is raised to a denial),
and a policy-set file saying ``defaults: false`` leaves the default set out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from containerguard.errors import PolicyError
from containerguard.policy.engine import CompiledPolicy, PolicySet, compile_expression
from containerguard.policy.model import Action, Exclusion, OnError, Policy, Scope, Stage
from containerguard.policy.schema import PolicyFileSpec, PolicySpec
from containerguard.yamlsafe import line_of, load_with_lines

MAX_POLICY_BYTES = 4 * 1024 * 1024

#: files in a policy directory that are policy tests, not policies
TEST_SUFFIXES = ("_test.yaml", "_test.yml", ".test.yaml", ".test.yml")


def is_test_file(path: Path) -> bool:
    return path.name.endswith(TEST_SUFFIXES) or "tests" in path.parts[-2:-1]


def policy_files(paths: Iterable[Path | str]) -> list[Path]:
    """The policy files of files and directories (recursively, sorted; tests left out)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*")) if f.suffix in (".yaml", ".yml") and f.is_file()
                       and not is_test_file(f.relative_to(p)) and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            out.append(p)
        else:
            raise PolicyError(f"{p}: no such policy file or directory")
    return out


def parse_file(text: str, source: str) -> tuple[list[Policy], bool, list[Any]]:
    """Policies of one file, whether it keeps the defaults, and their compiled programs (same order)."""
    data, node = load_with_lines(text, source, error=PolicyError, aliases=False, max_bytes=MAX_POLICY_BYTES,
                                 unique_keys=True)
    if data is None:
        return [], True, []
    single = isinstance(data, dict) and "id" in data and "policies" not in data
    keep_defaults = True
    if isinstance(data, dict) and "defaults" in data and not single:
        if not isinstance(data["defaults"], bool):
            raise PolicyError(f"{source}:{line_of(node, ('defaults',))}: defaults: expected true or false, "
                              f"not {data['defaults']!r}")
        keep_defaults = data.pop("defaults")
    wrapped: Any = {"policies": [data]} if single else data
    if not isinstance(wrapped, dict):
        raise PolicyError(f"{source}:{line_of(node, ())}: a policy file is a mapping: one policy (with 'id') "
                          "or 'policies:' (a list of them)")

    def where(loc: tuple[int | str, ...]) -> str:
        if single and loc[:2] == ("policies", 0):
            loc = loc[2:]
        return f"{source}:{line_of(node, loc)}"

    try:
        spec = PolicyFileSpec.model_validate(wrapped)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(x) for x in (loc[2:] if single and loc[:2] == ("policies", 0) else loc))
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise PolicyError(f"{where(loc)}: {field or 'policy'}: {msg}{more}") from None
    policies: list[Policy] = []
    programs: list[Any] = []
    seen: dict[str, str] = {}
    for i, ps in enumerate(spec.policies):
        here = where(("policies", i))
        if ps.id in seen:
            raise PolicyError(f"{here}: duplicate policy id {ps.id} (first at {seen[ps.id]})")
        seen[ps.id] = here
        try:
            prog, names = compile_expression(ps.condition, ps.params)
        except ValueError as exc:
            raise PolicyError(f"{where(('policies', i, 'condition'))}: policy {ps.id}: condition: {exc}") from None
        details = None
        if ps.details:
            try:
                details, dnames = compile_expression(ps.details, ps.params)
            except ValueError as exc:
                raise PolicyError(f"{where(('policies', i, 'details'))}: policy {ps.id}: details: {exc}") from None
            names = names | dnames
        policies.append(_policy(ps, here))
        programs.append((prog, details, names))
    return policies, keep_defaults, programs


def _policy(ps: PolicySpec, source: str) -> Policy:
    return Policy(
        id=ps.id, name=ps.name, description=ps.description, severity=ps.severity, condition=ps.condition,
        enforcement={Stage(s): Action(a) for s, a in ps.enforcement.items()}, rationale=ps.rationale,
        remediation=ps.remediation, details=ps.details,
        scope=Scope(tuple(ps.scope.registries), tuple(ps.scope.repositories), tuple(ps.scope.namespaces),
                    dict(ps.scope.labels)),
        exclusions=tuple(Exclusion(e.reason, tuple(e.images), tuple(e.namespaces), tuple(e.workloads), e.expires)
                         for e in ps.exclusions),
        on_error=OnError(ps.on_error), params=dict(ps.params), tags=tuple(ps.tags), enabled=ps.enabled,
        source=source)


def default_policy_files() -> list[tuple[str, str]]:
    """(label, text) of the built-in default set."""
    root = resources.files("containerguard.policy") / "defaults"
    return [(f"<defaults>/{f.name}", f.read_text(encoding="utf-8"))
            for f in sorted(root.iterdir(), key=lambda f: f.name) if f.name.endswith(".yaml")]


def load_policies(paths: Sequence[Path | str] = (), *, defaults: bool = True,
                  today: dt.date | None = None) -> PolicySet:
    """The default set (unless ``defaults`` is False or a file says ``defaults: false``) plus the policies
    under ``paths``; a user policy replaces a default one of the same id."""
    user: list[tuple[Policy, Any]] = []
    keep = defaults
    seen: dict[str, str] = {}
    for f in policy_files(paths):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{f}: cannot read: {exc}") from None
        try:
            pols, keep_defaults, progs = parse_file(text, str(f))
        except yaml.YAMLError as exc:  # pragma: no cover - load_yaml_with_lines converts these
            raise PolicyError(f"{f}: invalid YAML: {exc}") from None
        keep = keep and keep_defaults
        for p, prog in zip(pols, progs, strict=True):
            if p.id in seen:
                raise PolicyError(f"{p.source}: duplicate policy id {p.id} (first at {seen[p.id]})")
            seen[p.id] = p.source
            user.append((p, prog))
    base: list[tuple[Policy, Any]] = []
    if keep:
        for label, text in default_policy_files():
            pols, _, progs = parse_file(text, label)
            base.extend(zip(pols, progs, strict=True))
    by_id = {p.id: (p, prog) for p, prog in base}
    for p, prog in user:
        by_id[p.id] = (p, prog)
    compiled = [CompiledPolicy(p, prog[0], prog[1], prog[2]) for p, prog in by_id.values()]
    today = today or dt.datetime.now(dt.UTC).date()
    warnings = [f"{p.source}: {p.id}: exclusion expired on {e.expires} ({e.reason})"
                for p, _ in by_id.values() for e in p.exclusions if e.expired(today)]
    return PolicySet(compiled, warnings=warnings)


class LivePolicies:
    """A policy set that reloads from its files on demand (``authz serve`` and ``admission serve`` on SIGHUP).
    A reload that fails keeps the last good set (and says why in ``last_error``): a typo in a policy file
    never leaves a running enforcement point without policies."""

    def __init__(self, paths: Sequence[Path | str] = (), *, defaults: bool = True) -> None:
        self.paths = tuple(paths)
        self.defaults = defaults
        self.current = load_policies(self.paths, defaults=defaults)
        self.last_error = ""
        self.reloads = 0

    def reload(self) -> str:
        """Load the files again; return "" on success, else the one-line error (the old set stays)."""
        try:
            self.current = load_policies(self.paths, defaults=self.defaults)
        except PolicyError as exc:
            self.last_error = str(exc)
            return self.last_error
        self.last_error = ""
        self.reloads += 1
        return ""


def current_set(policies: PolicySet | LivePolicies) -> PolicySet:
    return policies.current if isinstance(policies, LivePolicies) else policies
