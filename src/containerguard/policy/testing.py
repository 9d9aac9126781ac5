"""Policy unit tests: input documents with expected outcomes, kept beside the policies (``*_test.yaml``).

    tests:
      - name: a privileged pod is denied
        stage: deploy                      # build, deploy or runtime
        input: {container: {privileged: true}}   # a partial document (completed with the defaults), or
        # kubernetes: {kind: Pod, ...}     # a Kubernetes object (every container is evaluated), or
        # docker_create: {Image: ..., HostConfig: {...}}   # a Docker create body
        expect:
          violated: [CG-DEP-001]           # these policies must be violated
          passed: [CG-DEP-002]             # these must not be
          allowed: false                   # the overall decision
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from containerguard.errors import PolicyError
from containerguard.policy import inputs
from containerguard.policy.engine import PolicySet
from containerguard.policy.loader import MAX_POLICY_BYTES, TEST_SUFFIXES
from containerguard.policy.model import Decision, Stage
from containerguard.yamlsafe import line_of, load_with_lines


class _Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    violated: list[str] = Field(default_factory=list)
    passed: list[str] = Field(default_factory=list)
    allowed: bool | None = None


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    stage: Literal["build", "deploy", "runtime"]
    input: dict[str, Any] | None = None
    kubernetes: dict[str, Any] | None = None
    docker_create: dict[str, Any] | None = None
    today: dt.date | None = None
    expect: _Expect

    @model_validator(mode="after")
    def _one_input(self) -> _Case:
        if sum(x is not None for x in (self.input, self.kubernetes, self.docker_create)) != 1:
            raise ValueError("a test gives exactly one of input, kubernetes, docker_create")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tests: list[_Case]


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    line: int
    name: str
    ok: bool
    problems: tuple[str, ...]
    decision: Decision


def find_test_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*")) if f.is_file() and
                       (f.name.endswith(TEST_SUFFIXES) or (f.parent.name == "tests" and f.suffix in (".yaml", ".yml"))))
        elif p.is_file():
            out.append(p)
    return out


def documents(case: _Case) -> list[tuple[str, dict[str, Any]]]:
    stage = case.stage
    if case.kubernetes is not None:
        docs = list(inputs.from_k8s_object(case.kubernetes))
        if not docs:
            raise PolicyError(f"kind {case.kubernetes.get('kind')!r} holds no pod template")
        return docs
    if case.docker_create is not None:
        return [("docker create", inputs.from_docker_create(case.docker_create))]
    assert case.input is not None
    return [("input", inputs.complete(case.input, stage))]


def run_file(ps: PolicySet, path: Path) -> list[CaseResult]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    data, node = load_with_lines(text, str(path), error=PolicyError, aliases=False, max_bytes=MAX_POLICY_BYTES,
                                 unique_keys=True)
    try:
        spec = _File.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise PolicyError(f"{path}:{line_of(node, loc)}: {'.'.join(map(str, loc))}: "
                          f"{err['msg'].removeprefix('Value error, ')}") from None
    known = {p.id for p in ps.policies}
    results: list[CaseResult] = []
    for i, case in enumerate(spec.tests):
        line = line_of(node, ("tests", i)) or 0
        unknown = sorted(set(case.expect.violated + case.expect.passed) - known)
        if unknown:
            raise PolicyError(f"{path}:{line}: test {case.name!r}: unknown policy id(s) {', '.join(unknown)}")
        try:
            docs = documents(case)
        except PolicyError as exc:
            raise PolicyError(f"{path}:{line}: test {case.name!r}: {exc}") from None
        decision = ps.evaluate_many(docs, Stage(case.stage), today=case.today)
        results.append(CaseResult(str(path), line, case.name, *_check(case.expect, decision), decision))
    return results


def _check(expect: _Expect, decision: Decision) -> tuple[bool, tuple[str, ...]]:
    got = {v.policy_id for v in decision.violations}
    errors = {v.policy_id: v.error for v in decision.violations if v.error}
    problems = [f"expected {pid} to be violated, it passed" for pid in expect.violated if pid not in got]
    problems += [f"expected {pid} to pass, it was violated" + (f" (evaluation error: {errors[pid]})" if pid in errors else "")
                 for pid in expect.passed if pid in got]
    problems += [f"{pid}: evaluation error: {err}" for pid, err in errors.items() if pid in expect.violated]
    if expect.allowed is not None and decision.allowed != expect.allowed:
        blockers = ", ".join(sorted({v.policy_id for v in decision.blocking})) or "none"
        problems.append(f"expected {'allowed' if expect.allowed else 'blocked'}, got "
                        f"{'allowed' if decision.allowed else 'blocked'} (blocking: {blockers})")
    return not problems, tuple(problems)


def run_tests(ps: PolicySet, paths: Iterable[Path]) -> list[CaseResult]:
    files = find_test_files(paths)
    out: list[CaseResult] = []
    for f in files:
        out.extend(run_file(ps, f))
    return out


def load_inputs(path: Path) -> list[Mapping[str, Any]]:
    """The input documents of a file for ``policy eval``: JSON, or YAML with one or more documents (input
    documents, Kubernetes objects -- a List's items too --, AdmissionReviews, Docker create bodies)."""
    import yaml

    from containerguard import yamlsafe

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    if len(text) > yamlsafe.MAX_BYTES:
        raise PolicyError(f"{path}: file larger than {yamlsafe.MAX_BYTES} bytes")
    out: list[Mapping[str, Any]] = []
    try:
        for node in yamlsafe.compose_all(text, yamlsafe.SAFE_LOADER):
            if yamlsafe.expanded_size(node) > yamlsafe.MAX_EXPANDED_NODES:
                raise PolicyError(f"{path}:{node.start_mark.line + 1}: document expands to too many nodes")
            # repeated keys are not refused here: real manifests have them (kubectl refuses those files itself)
            data = yamlsafe.construct(node, str(path), error=PolicyError)
            if data is None:
                continue
            if not isinstance(data, Mapping):
                raise PolicyError(f"{path}:{node.start_mark.line + 1}: expected a mapping (an input document, "
                                  "a Kubernetes object or an AdmissionReview)")
            if str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
                out.extend(i for i in data["items"] if isinstance(i, Mapping))
            else:
                out.append(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise PolicyError(f"{path}: nesting too deep") from None
    if not out:
        raise PolicyError(f"{path}: no document in it")
    return out
