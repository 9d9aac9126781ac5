"""``dir:`` targets: a source tree's lockfiles through the CLI, symlinks kept inside the tree."""

from __future__ import annotations

import json
from pathlib import Path

from containerguard.cli.main import main


def test_source_tree_lockfiles(tmp_path: Path, capsys) -> None:
    tree = tmp_path / "project"
    (tree / "svc").mkdir(parents=True)
    (tree / "svc" / "requirements.txt").write_text("requests==2.19.0\ndjango==2.0  # pinned\n")
    (tree / ".git").mkdir()
    (tree / ".git" / "requirements.txt").write_text("ignored==1.0\n")
    (tree / "etc").symlink_to("/etc")  # never followed out of the tree
    rc = main(["sbom", f"dir:{tree}", "-f", "json", "--no-cache", "-q"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    data = json.loads(out.out)
    assert sorted((p["name"], p["version"]) for p in data["packages"]) == [("django", "2.0"), ("requests", "2.19.0")]
    assert all(p["locations"] == ["svc/requirements.txt"] for p in data["packages"])
    assert data["os"]["family"] == "unknown"  # the host's /etc/os-release behind the symlink is not read
    rc = main(["sbom", f"dir:{tmp_path / 'missing'}", "--no-cache"])
    assert rc == 2 and "not a directory" in capsys.readouterr().err
