"""`containerguard agent` refuses bad configuration with one `error:` line and exit code 2, before tracing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli.main import main


@pytest.mark.parametrize(("args", "needle"), [
    (["--output", "carrier-pigeon"], "--output 'carrier-pigeon'"),
    (["--output", "webhook:ftp://example.invalid"], "must start with http"),
    (["--respond", "explode:CRITICAL"], "unknown action 'explode'"),
    (["--respond", "kill_container:SEVERE"], "unknown priority"),
    (["--k8s-audit-listen", "127.0.0.1:notaport"], "expected HOST:PORT"),
])
def test_bad_options(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and needle in err[-1]


def test_broken_rules_file_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: r\n  desc: d\n  condition: evt.type = open and (\n  output: o\n  priority: NOTICE\n")
    assert main(["agent", "--rules", str(bad), "--output", f"file:{tmp_path / 'a.jsonl'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and f"{bad}:" in err
