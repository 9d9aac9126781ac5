"""No text from the data can break or alter terminal output: names, versions, paths, advisory titles,
ignore reasons, rule names and alert outputs carrying Rich markup (``[/x]`` raises in Rich, ``[bold]``
restyles) or control sequences go through every table the CLI draws and come out literally."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main

MARK = "[/x] [bold]loud[/bold] [red]"
ESC = "\x1b[2J"


def _run(capsys: pytest.CaptureFixture[str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    assert rc in ok, out.err
    assert "\x1b" not in out.out and "\x1b" not in out.err  # no escape sequence from the data reaches the terminal
    return out.out + out.err


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one npm advisory whose title carries markup and an escape sequence."""
    root = vulnmirror.subset(tmp_path_factory.mktemp("mirror") / "m", ecosystems=(), alpine=())
    (root / "osv" / "npm").mkdir(parents=True)
    adv = {"schema_version": "1.6.0", "id": "GHSA-mark-up00-0001", "modified": "2024-01-01T00:00:00Z",
           "published": "2024-01-01T00:00:00Z", "summary": f"{MARK} title {ESC}",
           "details": f"details {MARK}", "aliases": ["CVE-2099-0001"],
           "affected": [{"package": {"ecosystem": "npm", "name": "markup-pkg"},
                         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}],
           "database_specific": {"severity": "HIGH"}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("GHSA-mark-up00-0001.json", json.dumps(adv))
    (root / "osv" / "npm" / "all.zip").write_bytes(buf.getvalue())
    out = tmp_path_factory.mktemp("db") / "db.sqlite"
    with vulnmirror.serve(root) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(out), "--quiet"]) == 0
    return out


def _tree(root: Path) -> Path:
    for name in ("markup-pkg", "[bold]named"):
        nm = root / "srv [/x]" / "node_modules" / name
        nm.mkdir(parents=True)
        (nm / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    (root / "cfg [bold]").mkdir()
    (root / "cfg [bold]" / "[red]x.env").write_text("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLQ\n"
                                                    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEQ\n")
    (root / "d [/x]").mkdir(parents=True)  # "[/x]" in a path: the directories "d [" and "x]"
    (root / "d [/x]" / "Dockerfile").write_text("FROM debian:latest\nRUN apt-get install -y curl\n")
    return root


def test_every_scan_table(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that no title is cut
    root = _tree(tmp_path / "t")
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(f"ignores:\n  - id: AWS-ACCESS-KEY-ID\n    reason: \"{MARK} reason\"\n")
    text = _run(capsys, "scan", f"dir:{root}", "--db", str(db), "--ignorefile", str(ignore), "-f", "table")
    assert f"{MARK} title" in text and "\\x1b[2J" in text  # the advisory title, its escape made visible
    assert "CVE-2099-0001" in text
    assert "d [/x]/Dockerfile:1" in text  # misconfiguration table: the path as it is
    assert "cfg [bold]/[red]x.env:1" in text and f"{MARK} reason" in text  # suppressed table


def test_sbom_and_config_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path / "t")
    text = _run(capsys, "sbom", f"dir:{root}", "--no-cache")
    assert "[bold]named" in text and "srv [/x]" in text
    text = _run(capsys, "config", str(root), "-f", "table")
    assert "[/x]/Dockerfile:1" in text


def test_rules_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # Rich honours it: cells stay on one line
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- rule: \"[/x] [bold]shell rule\"\n"
        "  desc: \"[red]desc\"\n"
        "  condition: evt.type = execve and proc.name = sh\n"
        "  output: \"[/x] shell [bold]%proc.name\"\n"
        "  priority: WARNING\n"
        "  tags: [\"[bold]tag\"]\n")
    text = _run(capsys, "rules", "list", "--rules", str(rules))
    assert "[/x] [bold]shell rule" in text and "[bold]tag" in text
    events = Path(__file__).resolve().parents[1] / "data" / "events" / "default_positive.jsonl"
    text = _run(capsys, "rules", "replay", "--rules", str(rules), "--events", str(events), "--format", "table")
    assert "[/x] shell [bold]sh" in text
