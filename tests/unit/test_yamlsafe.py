"""The one hardened YAML loader, through every reader that uses it: a bomb, deep nesting, a huge file and
a syntax error each get one clear error naming the file (and line), in the error class of the stage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from containerguard import yamlsafe
from containerguard.analyzer.base import AnalysisResult
from containerguard.analyzer.lockfiles import PnpmLockAnalyzer
from containerguard.errors import (
    AnalyzerError,
    ContainerGuardError,
    MisconfigError,
    PolicyError,
    RuleError,
    SecretsError,
)
from containerguard.filters.ignore import parse_ignore_file
from containerguard.misconfig.catalog import load_catalog_text
from containerguard.misconfig.kubernetes import scan_yaml_text
from containerguard.runtime.rules.loader import load_rules as load_falco_rules
from containerguard.secrets.rules import parse_rules as parse_secret_rules

#: 9 levels of 10 aliases each: 10**9 nodes once expanded, a few hundred bytes on disk
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))
DEEP = "k: " + "[" * 200 + "]" * 200 + "\n"


def _falco(text: str, tmp_path: Path) -> object:
    p = tmp_path / "rules.yaml"
    p.write_text(text)
    return load_falco_rules([p])


READERS = {
    "secret rules": (lambda t, _: parse_secret_rules(t, "my-rules.yaml"), SecretsError, "my-rules.yaml"),
    "check catalog": (lambda t, _: load_catalog_text(t, "checks.yaml"), MisconfigError, "checks.yaml"),
    "pnpm lockfile": (lambda t, _: list(PnpmLockAnalyzer().parse(t, "app/pnpm-lock.yaml", AnalysisResult())),
                      AnalyzerError, "app/pnpm-lock.yaml"),
    "falco rules": (_falco, RuleError, "rules.yaml"),
    "ignore file": (lambda t, _: parse_ignore_file(t, ".containerguard-ignore.yaml"), PolicyError,
                    ".containerguard-ignore.yaml"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize(("text", "reason"), [
    (BOMB, r"(alias expansion exceeds|anchors and aliases are not allowed)"),
    (DEEP, "nesting deeper than"),
    ("a: [unclosed\nb: 1\n", r":\d+: invalid YAML"),
])
def test_every_reader_refuses_hostile_yaml(reader: str, text: str, reason: str, tmp_path: Path) -> None:
    call, error, source = READERS[reader]
    started = time.monotonic()
    with pytest.raises(error, match=reason) as info:
        call(text, tmp_path)
    assert source in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    assert time.monotonic() - started < 5  # refused before anything is expanded


def test_kubernetes_manifests_skip_a_bomb_document_and_keep_the_rest() -> None:
    good = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx}]\n"
    res = scan_yaml_text(BOMB + "---\n" + good, "m.yaml")
    assert res.skipped == 1 and any("alias expansion exceeds" in w for w in res.warnings)
    assert res.objects == 1 and res.findings


def test_aliases_within_the_bound_are_kept_where_allowed() -> None:
    data = yamlsafe.load("base: &b {x: 1}\nother: *b\n", "f.yaml", error=ContainerGuardError)
    assert data == {"base": {"x": 1}, "other": {"x": 1}}
    with pytest.raises(PolicyError, match=r"f.yaml:1: YAML anchors and aliases are not allowed"):
        yamlsafe.load("base: &b {x: 1}\nother: *b\n", "f.yaml", error=PolicyError, aliases=False)


def test_size_cap_comes_before_parsing() -> None:
    with pytest.raises(SecretsError, match=r"^s.yaml: file larger than 10 bytes$"):
        yamlsafe.load("a: " + "x" * 100, "s.yaml", error=SecretsError, max_bytes=10)


def test_line_of_points_at_the_field() -> None:
    data, node = yamlsafe.load_with_lines("a:\n  b:\n    - 1\n    - 2\n", "f.yaml", error=ContainerGuardError)
    assert data == {"a": {"b": [1, 2]}}
    assert yamlsafe.line_of(node, ("a", "b", 1)) == 4
    assert yamlsafe.line_of(node, ("a", "missing")) == 2
