"""Every table the CLI draws fits the terminal: at COLUMNS=80, 120 and 200 no line of the output is wider
than the terminal, every row stays on one line (long values cut with an ellipsis; the full text is in the
JSON report), the summary comes first, and hostile values (Rich markup, ANSI escapes, very long package
names and advisory titles) come out literally, never interpreted. Through the real CLI entry point."""

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
from containerguard.report.terminal import cells

WIDTHS = (80, 120, 200)
MARK = "[/x] [bold]loud[/bold] [red]"
ESC = "\x1b[2J"
LONG_PKG = "[bold]" + "p" * 150 + "[/x]"
LONG_TITLE = f"{MARK} {ESC} " + "an advisory title that goes on and on " * 12 + "TITLE-END"


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int, *args: str,
         ok: tuple[int, ...] = (0,)) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    assert rc in ok, out.err
    wide = [ln for ln in out.out.splitlines() if cells(ln) > width]
    assert wide == [], f"{len(wide)} lines wider than {width}: {wide[:3]}"
    assert "\x1b" not in out.out and "\x1b" not in out.err  # no escape sequence reaches the terminal
    return out.out


def _rows(text: str, needle: str) -> list[str]:
    return [ln for ln in text.splitlines() if needle in ln]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One npm advisory for the long-named package, with a long hostile title."""
    root = vulnmirror.subset(tmp_path_factory.mktemp("mirror") / "m", ecosystems=(), alpine=())
    (root / "osv" / "npm").mkdir(parents=True)
    advisories = [{"schema_version": "1.6.0", "id": f"GHSA-wide-0000-000{i}", "modified": "2024-01-01T00:00:00Z",
                   "published": "2024-01-01T00:00:00Z", "summary": LONG_TITLE, "details": "d",
                   "aliases": [f"CVE-2099-000{i}"],
                   "affected": [{"package": {"ecosystem": "npm", "name": name},
                                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}],
                   "database_specific": {"severity": "HIGH"}} for i, name in enumerate((LONG_PKG, "short-pkg"))]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for adv in advisories:
            zf.writestr(f"{adv['id']}.json", json.dumps(adv))
    (root / "osv" / "npm" / "all.zip").write_bytes(buf.getvalue())
    out = tmp_path_factory.mktemp("db") / "db.sqlite"
    with vulnmirror.serve(root) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / ("t " + MARK)
    for name in (LONG_PKG, "short-pkg"):
        nm = root / "srv" / "node_modules" / name.replace("/", "_")
        nm.mkdir(parents=True)
        (nm / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    deep = root / ("d" * 60) / ("[bold]" + "e" * 60) / "x"
    deep.mkdir(parents=True)
    (deep / "Dockerfile").write_text("FROM debian:latest\nENV GITHUB_TOKEN=ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A\n"
                                     "RUN apt-get install -y curl\n")
    (root / "app.env").write_text("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLQ\n")
    (root / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"" + "[bold]" + "q" * 120 + "\"}\n"
        "spec: {containers: [{name: c, image: nginx}]}\n")
    return root


@pytest.mark.parametrize("width", WIDTHS)
def test_scan_tables_fit(width: int, tree: Path, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(f"ignores:\n  - id: CG-DF-007\n    reason: \"{MARK} {'a long reason ' * 20}\"\n")
    text = _run(capsys, monkeypatch, width, "scan", f"dir:{tree}", "--db", str(db), "--ignorefile", str(ignore))
    lines = text.splitlines()
    assert lines[0].startswith(f"dir:{tree}"[:20]) and "vulnerabilities" in text.split("\nVulnerabilities")[0]
    vulns = _rows(text, "CVE-2099-")
    assert len(vulns) == 2  # one line per finding, the long title cut, never wrapped
    assert all("…" in r for r in vulns) and "TITLE-END" not in text
    assert any(r.startswith("│ sho") for r in vulns)
    assert any(r.startswith("│ [b") for r in vulns)  # markup shown literally (cut to the column at 80)
    assert len(_rows(text, "CG-DF-")) >= 2 and _rows(text, "CG-DF-007")  # misconfigurations and suppressed
    assert "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A" not in text
    assert ("Vulnerabilities" in text) and ("Suppressed" in text)
    full = tmp_path / "r.json"
    _run(capsys, monkeypatch, width, "scan", f"dir:{tree}", "--db", str(db), "-f", "json", "-o", str(full), "-q")
    assert LONG_TITLE in {f["title"] for f in json.loads(full.read_text())["findings"]}  # the full text is in JSON


@pytest.mark.parametrize("width", WIDTHS)
def test_sbom_config_rules_policy_tables_fit(width: int, tree: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _run(capsys, monkeypatch, width, "sbom", f"dir:{tree}", "--no-cache")
    assert len(_rows(text, "│ [bold]pp")) == 1 and _rows(text, "│ short-pkg")
    text = _run(capsys, monkeypatch, width, "config", str(tree), ok=(0,))
    assert text.splitlines()[0].startswith(str(tree)[:10])  # summary first
    assert _rows(text, "CG-DF-007") and _rows(text, "CG-K8S-")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"- rule: \"{MARK} shell rule {'with a very long name ' * 8}\"\n"
        "  desc: \"[red]desc\"\n"
        "  condition: evt.type = execve and proc.name = sh\n"
        f"  output: \"[/x] shell [bold]%proc.name {'and more output ' * 12}\"\n"
        "  priority: WARNING\n"
        f"  tags: [\"[bold]tag\", \"{'t' * 90}\"]\n")
    text = _run(capsys, monkeypatch, width, "rules", "list", "--rules", str(rules))
    assert len(_rows(text, "[/x] [bold]")) == 1
    events = Path(__file__).resolve().parents[1] / "data" / "events" / "default_positive.jsonl"
    text = _run(capsys, monkeypatch, width, "rules", "replay", "--rules", str(rules), "--events", str(events),
                "--format", "table")
    assert _rows(text, "[/x] shell [bold]sh") or _rows(text, "[/x] shell [bold]…") or _rows(text, "[/x]")
    _run(capsys, monkeypatch, width, "rules", "fields")
    _run(capsys, monkeypatch, width, "policy", "list")


@pytest.mark.parametrize("width", WIDTHS)
def test_db_status_and_baseline_tables_fit(width: int, db: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _run(capsys, monkeypatch, width, "db", "status", "--db", str(db))
    head = text.split("\nSources\n")[0]  # the summary first, wrapped to the terminal
    assert text.startswith(str(db)[:10]) and "records" in head and "skipped" in head
    from tests.unit.runtime.test_baseline_model import Clock, _learned

    det = _learned(tmp_path / "b", Clock())
    det.flush()
    export = tmp_path / "b.yaml"
    assert main(["baseline", "export", "--baseline-dir", str(tmp_path / "b"), "-o", str(export)]) == 0
    doc = export.read_text()
    image = next(ln.split(":", 1)[1].strip() for ln in doc.splitlines() if ln.strip().startswith("image:"))
    export.write_text(doc.replace(image, json.dumps(f"{MARK}{'i' * 150}")))
    assert main(["baseline", "import", str(export), "--baseline-dir", str(tmp_path / "b")]) == 0
    text = _run(capsys, monkeypatch, width, "baseline", "list", "--baseline-dir", str(tmp_path / "b"))
    assert len(_rows(text, MARK[:10])) == 1
    assert main(["baseline", "list", "--baseline-dir", str(tmp_path / "b"), "--format", "json"]) == 0
    workload = json.loads(capsys.readouterr().out.splitlines()[0])["workload"]  # JSON lines: not a table
    _run(capsys, monkeypatch, width, "baseline", "show", workload, "--baseline-dir", str(tmp_path / "b"))
