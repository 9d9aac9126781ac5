"""The upstream Falco rules files (falcosecurity/rules at the commit ../shared/falco-rules/README.md names, read
unmodified from there) load together with the default ruleset through `containerguard rules validate`; the rules
this host's agent cannot run are exactly the ones below, each with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures import env

from containerguard.runtime.agent import host_support
from containerguard.runtime.rules import default_rules_path, load_rules
from containerguard.runtime.sensor import script

UPSTREAM = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")

#: what ContainerGuard cannot supply anywhere: nothing any more. The domain names of peers (fd.sip.name, fd.cip.name)
#: come from runtime/dns.py, as Falco's DNS manager gives them, and the data buffer of socket calls (evt.buffer) from
#: the sensor when a rule reads it.
ALWAYS_DISABLED: dict[str, str] = {}
#: rules that need module loading, which a kernel built without loadable modules cannot trace
MODULE_RULES = {
    "Linux Kernel Module Injection Detected": "event types finit_module, init_module not traced by the sensor",
    "Kernel module loaded from a container": "event types finit_module, init_module not traced by the sensor",
}


def _files() -> list[Path]:
    base = env.SHARED / "falco-rules"
    if not (base / UPSTREAM[0]).is_file():
        pytest.fail(f"{base} is missing the upstream rules files (shared data)")
    return [base / f for f in UPSTREAM]


def _expected() -> dict[str, str]:
    available = script.available_syscalls()
    modules = available is None or {"init_module", "finit_module"} & available
    return {**ALWAYS_DISABLED, **({} if modules else MODULE_RULES)}


def test_upstream_files_load_with_the_default_ruleset_and_the_disabled_rules_are_exact() -> None:
    files = [default_rules_path(), *_files()]
    r = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "rules", "validate", "--format", "json",
                        *map(str, files)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["errors"] == []
    assert {d["rule"]: d["reason"] for d in doc["disabled"]} == _expected()
    for d in doc["disabled"]:
        for what in d["missing"]:
            assert d["rule"] in doc["unsupplied"][what]
    # every upstream field is known to the engine: no rule is disabled for an unknown field or construct
    assert not [w for w in doc["warnings"] if "unknown field" in w]


def test_upstream_files_change_nothing_in_the_default_rules() -> None:
    """The default ruleset's macros and lists live in their own namespace (cg_*): loading the upstream files after
    it leaves every default rule's compiled condition as it was, and no warning names a default macro or list."""
    fields, traced = host_support()
    alone = load_rules([default_rules_path()], available_fields=fields, traced_event_types=traced)
    both = load_rules([default_rules_path(), *_files()], available_fields=fields, traced_event_types=traced)
    before = {r.name: (r.condition, r.enabled, r.event_types, r.fields) for r in alone.rules}
    after = {r.name: (r.condition, r.enabled, r.event_types, r.fields) for r in both.rules if r.name in before}
    assert after == before
    default = str(default_rules_path())
    assert not [w for w in both.warnings if "redefines" in w and default in w]


def test_a_real_clash_is_a_warning(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("- list: shell_binaries\n  items: [sh]\n"
                    "- rule: R\n  desc: d\n  condition: evt.type = execve and proc.name in (shell_binaries)\n"
                    "  output: x\n  priority: INFO\n")
    rs = load_rules([_files()[0], mine])
    assert any(w.startswith(f"{mine}:1: list 'shell_binaries' redefines the list of the same name from "
                            f"{_files()[0]}:") for w in rs.warnings), rs.warnings


@pytest.mark.parametrize("name", UPSTREAM)
def test_each_upstream_file_loads_alone(name: str) -> None:
    fields, traced = host_support()
    path = env.SHARED / "falco-rules" / name
    rs = load_rules([path], available_fields=fields, traced_event_types=traced)
    disabled = {r.name: r.disabled_reason for r in rs.rules if not r.enabled and r.disabled_reason != "enabled: false"}
    assert rs.enabled_rules  # and nothing is disabled but for the reasons the combined load gives
    assert disabled.items() <= _expected().items()
