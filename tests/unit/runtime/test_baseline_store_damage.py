"""A baseline store damaged by hand or by another program (issue 14, bad input): one damaged row never hides
the other workloads from ``containerguard baseline`` or from the agent's detector, is named in one line, and is
left as it is (never learned over) until ``baseline import`` replaces it; a database that is not a baseline store
is refused in one line and not written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore, import_yaml

SEED = """\
- workload: sha256:web/web-*
  image: web:1
  image_id: sha256:web
  name_pattern: web-*
  mode: protect
  file: [/var/log/web]
  syscall: [openat]
- workload: sha256:api/api-*
  image: api:1
  image_id: sha256:api
  name_pattern: api-*
  mode: monitor
  file: [/var/log/api]
  syscall: [openat]
"""

#: documents a row may hold after a hand edit or another program's write: each must be named, never trusted
DAMAGE = {
    "not json": "{not json",
    "json list": "[1, 2]",
    "entries as text": json.dumps({"workload": "sha256:web/web-*", "mode": "protect", "file": "/var/log/web"}),
    "entries as number": json.dumps({"workload": "sha256:web/web-*", "process": 5}),
    "unknown mode": json.dumps({"workload": "sha256:web/web-*", "mode": "kill-everything"}),
    "another workload's document": json.dumps({"workload": "sha256:api/api-*", "mode": "learn"}),
    "locked as text": json.dumps({"workload": "sha256:web/web-*", "locked": "no"}),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


def _row(bdir: Path, key: str) -> tuple[str, int]:
    with sqlite3.connect(bdir / "baselines.db") as db:
        doc, version = db.execute("SELECT doc, version FROM workloads WHERE key = ?", (key,)).fetchone()
    return doc, version


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    d = tmp_path / "store"
    (tmp_path / "seed.yaml").write_text(SEED)
    assert main(["baseline", "import", str(tmp_path / "seed.yaml"), "--baseline-dir", str(d)]) == 0
    return d


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_row_is_named_and_the_other_workloads_stay_usable(case: str, bdir: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(bdir / "baselines.db") as db:
        db.execute("UPDATE workloads SET doc = ? WHERE key = 'sha256:web/web-*'", (DAMAGE[case],))
    damaged = _row(bdir, "sha256:web/web-*")
    capsys.readouterr()

    # list: the readable workload, and one warning line naming the damaged one
    assert main(["baseline", "list", "--format", "json", "--baseline-dir", str(bdir)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["workload"] for line in out.splitlines()] == ["sha256:api/api-*"]
    assert len(err.splitlines()) == 1 and "'sha256:web/web-*' is unreadable" in err and "baseline import" in err

    # the other workload can be shown, changed and exported; the damaged one is one line, exit 2
    assert main(["baseline", "show", "api-*", "--baseline-dir", str(bdir)]) == 0
    assert main(["baseline", "mode", "api-*", "protect", "--baseline-dir", str(bdir)]) == 0
    capsys.readouterr()
    for args in (["show", "sha256:web/web-*"], ["show", "sha256:web"], ["lock", "sha256:web/web-*"]):
        assert main(["baseline", *args, "--baseline-dir", str(bdir)]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "is unreadable" in err, (args, err)
    out_file = tmp_path / "export.yaml"
    assert main(["baseline", "export", "-o", str(out_file), "--baseline-dir", str(bdir)]) == 0
    assert [p.key for p in import_yaml(out_file.read_text(), "x")] == ["sha256:api/api-*"]
    assert "'sha256:web/web-*' is unreadable" in capsys.readouterr().err

    # the agent's detector starts, learns and saves the readable workload, and never saves over the damaged row
    # (even while a container of that workload runs)
    det = BaselineDetector(BaselineStore(bdir), quiet_s=3600)
    base = {"evt.failed": False, "evt.rawres": 0, "evt.is_open_write": True, "proc.pid": 3}
    for cid, name, image in (("c1", "api-1", "sha256:api"), ("c2", "web-1", "sha256:web")):
        for n in range(3):
            det.detect(Event(type="openat", time_ns=1, fields={
                **base, "container.id": cid, "container.name": name, "container.image.id": image,
                "fd.name": f"/srv/new{'abc'[n]}/x"}))
            det.tick()
    assert _row(bdir, "sha256:web/web-*") == damaged
    api = BaselineStore(bdir).load("sha256:api/api-*")
    assert api is not None and api.mode == "protect" and "/var/log/api" in api.entries["file"]

    # an import replaces the damaged row; the running detector reloads it
    (tmp_path / "fix.yaml").write_text(SEED.split("- workload: sha256:api")[0])
    assert main(["baseline", "import", str(tmp_path / "fix.yaml"), "--baseline-dir", str(bdir)]) == 0
    det.tick()
    assert det.profiles["sha256:web/web-*"].mode == "protect"
    assert main(["baseline", "list", "--baseline-dir", str(bdir)]) == 0
    assert capsys.readouterr().err == ""


def test_a_database_that_is_no_baseline_store_is_refused_and_not_written(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "other"
    d.mkdir()
    with sqlite3.connect(d / "baselines.db") as db:  # another program's database where the store should be
        db.execute("CREATE TABLE workloads (name TEXT, owner TEXT)")
        db.execute("INSERT INTO workloads VALUES ('payroll', 'finance')")
    before = hashlib.sha256((d / "baselines.db").read_bytes()).hexdigest()
    (tmp_path / "seed.yaml").write_text(SEED)
    for args in (["list"], ["show", "web-*"], ["export"], ["import", str(tmp_path / "seed.yaml")]):
        assert main(["baseline", *args, "--baseline-dir", str(d)]) == 2, args
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "not a ContainerGuard baseline store" in err, (args, err)
    assert hashlib.sha256((d / "baselines.db").read_bytes()).hexdigest() == before
