"""The quiet period of a baseline that is put (back) into learn by hand (issue 14, mode promotion): ``baseline
import`` of a learning baseline written by hand (no last change) and a ``baseline edit`` to learn give a fresh
quiet period, as ``baseline mode WORKLOAD learn`` does; the agent's detector promotes it only after that period
without new behaviour."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from containerguard.cli.main import main
from containerguard.runtime.baseline import BaselineDetector, BaselineStore

QUIET_S = 600


class Clock:
    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset


@pytest.mark.parametrize("doc", [
    "workload: img/web-*\nimage_id: sha256:web\nfile: [/var/log/web]\n",  # no times, learn by default
    "workload: img/web-*\nmode: learn\ncreated_ns: 5\nlast_change_ns: 0\n",  # created long ago, never changed
])
def test_an_imported_learning_baseline_learns_for_the_quiet_period(doc: str, tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(doc)
    assert main(["baseline", "import", str(tmp_path / "b.yaml"), "--baseline-dir", str(tmp_path / "s")]) == 0
    clock = Clock()
    det = BaselineDetector(BaselineStore(tmp_path / "s"), quiet_s=QUIET_S, clock=clock)
    det.tick()
    det.tick()
    assert BaselineStore(tmp_path / "s").find("img/web-*").mode == "learn"
    clock.offset = (QUIET_S + 5) * 1_000_000_000
    det.tick()
    assert BaselineStore(tmp_path / "s").find("img/web-*").mode == "monitor"


def test_an_edit_back_to_learn_learns_for_the_quiet_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b.yaml").write_text("workload: img/web-*\nmode: monitor\nlast_change_ns: 1000\n")
    store = tmp_path / "s"
    assert main(["baseline", "import", str(tmp_path / "b.yaml"), "--baseline-dir", str(store)]) == 0
    clock = Clock()
    det = BaselineDetector(BaselineStore(store), quiet_s=QUIET_S, clock=clock)
    det.tick()
    script = tmp_path / "editor.py"
    script.write_text("import sys\np = sys.argv[1]\nt = open(p).read()\nopen(p, 'w').write(t.replace('mode: monitor', "
                      "'mode: learn'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    assert main(["baseline", "edit", "img/web-*", "--baseline-dir", str(store)]) == 0
    det.tick()  # reloads the edit
    det.tick()  # promotes what is quiet
    assert det.profiles["img/web-*"].mode == "learn"
    clock.offset = (QUIET_S + 5) * 1_000_000_000
    det.tick()
    assert BaselineStore(store).find("img/web-*").mode == "monitor"
