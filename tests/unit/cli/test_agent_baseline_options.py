"""The agent's --baseline options (issue 14 review): a quiet period that is not a number of seconds a clock can
hold (NaN, infinity, 1e300) is one line and exit 2 before anything starts, not an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.cli.main import main


@pytest.mark.parametrize("quiet", ["nan", "inf", "1e300", "-1", "315360001"])
def test_an_impossible_quiet_period_is_refused_before_the_agent_starts(quiet: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "baselines"
    assert main(["agent", "--baseline", "--baseline-dir", str(d), "--baseline-quiet", quiet]) == 2
    err = capsys.readouterr().err.strip()
    assert "--baseline-quiet" in err and "Traceback" not in err and "internal error" not in err, err
    assert not d.exists()
