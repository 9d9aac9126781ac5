"""The built-in secret rules load without pydantic (the scanner is loaded on the start-up path of any run
that masks a keyword-bearing text): the file is validated against the schema here instead, and the fast
load gives exactly what the validated load gives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources

from containerguard.secrets.rules import BUILTIN_RULES, builtin_rules, parse_rules


def test_builtin_rules_match_the_schema() -> None:
    text = resources.files("containerguard.secrets").joinpath(BUILTIN_RULES).read_text(encoding="utf-8")
    assert parse_rules(text, BUILTIN_RULES) == builtin_rules()  # validated by pydantic, then compared


def test_loading_the_builtin_scanner_imports_no_pydantic() -> None:
    code = """
        import json, sys
        from containerguard.secrets.scanner import redact
        out = redact("GITHUB_TOKEN=ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A")
        print(json.dumps({"out": out, "pydantic": any(m.split(".")[0] == "pydantic" for m in sys.modules)}))
    """
    res = json.loads(subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                                    check=True, timeout=120).stdout)
    assert res["out"] == "GITHUB_TOKEN=ghp_****" and res["pydantic"] is False
