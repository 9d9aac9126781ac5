"""Exit codes through ``containerguard.cli.main.main``: 0 clean, 1 a gate failed, 2 usage or input error
(one line naming file and line), 3 an unexpected internal error (one line, never a traceback, never 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli.main import INTERNAL_ERROR, main


def test_input_error_is_2_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("ignores:\n  - id: CVE-2024-1\n    reason: r\n    expires: 2024-02-30\n")
    (tmp_path / "src").mkdir()
    rc = main(["scan", f"dir:{tmp_path / 'src'}", "--scanners", "secret", "--ignorefile", str(ignore)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == f"error: {ignore}:4: invalid value '2024-02-30': day is out of range for month\n"


def test_internal_error_is_its_own_code_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import containerguard.scanner.inventory as inventory

    def broken(*a: object, **kw: object) -> None:
        raise KeyError("layers")  # a bug somewhere below the CLI

    monkeypatch.setattr(inventory, "build_inventory", broken)
    rc = main(["sbom", f"dir:{tmp_path}", "--no-cache"])
    err = capsys.readouterr().err
    assert rc == INTERNAL_ERROR == 3
    assert err.count("\n") == 1 and err.startswith("internal error: KeyError: 'layers' at test_exit_codes.py:")
    assert "Traceback" not in err
    monkeypatch.setenv("CONTAINERGUARD_DEBUG", "1")
    assert main(["sbom", f"dir:{tmp_path}", "--no-cache"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_usage_error_is_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "dir:/nonexistent-dir", "--fail-on", "SEVERE"]) == 2
    assert main(["scan", "--no-such-flag", "x"]) == 2
