"""`containerguard agent --no-sensor --source cloudtrail:DIR`: the agent reads a directory as CloudTrail delivers
into it (new files picked up while it runs), alerts go to its outputs, and /healthz and /metrics report each
source's events, parse errors and lag. Bad files (truncated gzip, malformed JSON, records missing fields, a huge
requestParameters) are counted and named in warnings while the source keeps going."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.integration.cloud_corpus import (
    DATA,
    cases,
    cloudtrail_records,
    provider_records,
    stamp,
    time_key,
    write_azure_export,
    write_cloudtrail_delivery,
    write_gcp_sink,
)

from containerguard.runtime.rules import cloud_rules_path

CLI = [sys.executable, "-m", "containerguard.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


def _wait(pred: Any, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the agent")


def _alerts(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("workers", [1, 2])
def test_agent_reads_cloudtrail_directory(tmp_path, workers):
    """With --source-workers 2 the files that arrive together are read and evaluated by two processes: the same
    alerts, counts and warnings, and the agent's event count still counts every event."""
    trail = tmp_path / "trail"
    trail.mkdir()
    selected = [c for c in cases("cloudtrail") if c["ruleset"] == "cg" and c["rule"] != "CG-A013"]
    recs = cloudtrail_records(selected)
    first = [r for k, r in recs[:10]]
    write_cloudtrail_delivery(trail, first)
    out = tmp_path / "alerts.jsonl"
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen([*CLI, "agent", "--no-sensor", "--source", f"cloudtrail:{trail}", "--source-interval", "0.3",
                             "--source-workers", str(workers),
                             "--health-port", str(port), "--output", f"file:{out}", "--stats-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        _wait(lambda: _port_open(port))
        _wait(lambda: json.loads(_get(port, "/healthz"))["sources"][0]["events"] == 10)
        # CloudTrail delivers more files while the agent runs, and some bad ones
        write_cloudtrail_delivery(trail / "later", [r for k, r in recs[10:]])
        bad = trail / "AWSLogs" / "123456789012" / "CloudTrail" / "us-east-1" / "2024" / "05" / "02"
        bad.mkdir(parents=True)
        good = gzip.compress(json.dumps({"Records": [recs[0][1]]}).encode())
        (bad / "truncated.json.gz").write_bytes(good[: len(good) // 2])
        (bad / "malformed.json").write_text('{"Records": [{"eventName": "x",')
        huge = dict(recs[0][1], eventID="huge", requestParameters={"blob": "A" * (400 << 10)})
        missing = {k: v for k, v in recs[0][1].items() if k != "eventTime"}
        unexpected = dict(recs[1][1], eventID="odd", userIdentity="not an object", requestParameters=[1, 2, 3])
        (bad / "mixed.json").write_text(json.dumps({"Records": [huge, missing, "not a record", unexpected]}))
        total = len(recs) + 1  # every corpus record, plus the odd-but-usable one
        _wait(lambda: json.loads(_get(port, "/healthz"))["sources"][0]["events"] == total)
        _wait(lambda: json.loads(_get(port, "/healthz"))["sources"][0]["parse_errors"] == 5)
        health = json.loads(_get(port, "/healthz"))
        src = health["sources"][0]
        assert src["kind"] == "cloudtrail" and src["status"] == "ok" and src["lag_seconds"] > 3600
        warnings = "\n".join(src["recent_warnings"])
        assert "truncated.json.gz" in warnings and "truncated gzip" in warnings
        assert "malformed.json" in warnings and "not JSON" in warnings
        assert "mixed.json: record 1" in warnings and "limit" in warnings       # huge requestParameters
        assert "mixed.json: record 2" in warnings and "eventTime" in warnings   # missing field
        assert "mixed.json: record 3" in warnings                               # not an object
        # the agent's count (also the events the workers evaluated) catches up at the end of the pass
        _wait(lambda: json.loads(_get(port, "/healthz"))["events"] == total)
        metrics = _get(port, "/metrics")
        assert f'containerguard_source_events_total{{source="cloudtrail:{trail}",kind="cloudtrail"}} {total}' in metrics
        assert "containerguard_source_parse_errors_total" in metrics and "containerguard_source_lag_seconds" in metrics
        _wait(lambda: len(_alerts(out)) >= len(selected))
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    by_time: dict[str, set[str]] = {}
    for a in _alerts(out):
        by_time.setdefault(time_key(a), set()).add(a["rule_id"])
    for i, case in enumerate(selected):
        assert case["rule"] in by_time.get(stamp(i, "match"), set()), case["rule"]
        assert case["rule"] not in by_time.get(stamp(i, "miss"), set()), case["rule"]
    text = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in text
    assert ("reading log files in 2 processes" in text) == (workers == 2)
    assert DATA.exists()


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_agent_reads_gcp_and_azure_directories(tmp_path):
    """A GCP sink directory and an Azure activity-log export directory, side by side in one agent."""
    selected = {p: [c for c in cases(p) if c["ruleset"] == "cg"] for p in ("gcp", "azure")}
    write_gcp_sink(tmp_path / "gcp", provider_records("gcp", selected["gcp"]))
    write_azure_export(tmp_path / "azure", provider_records("azure", selected["azure"]))
    out = tmp_path / "alerts.jsonl"
    port = _free_port()
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen([*CLI, "agent", "--no-sensor", "--source", f"gcp:{tmp_path / 'gcp'}",
                             "--source", f"azure:{tmp_path / 'azure'}", "--source-interval", "0.3",
                             "--rules", str(cloud_rules_path()), "--rules", str(DATA / "region_override.yaml"),
                             "--health-port", str(port), "--output", f"file:{out}", "--stats-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait(lambda: _port_open(port))
        _wait(lambda: [s["events"] for s in json.loads(_get(port, "/healthz"))["sources"]]
              == [2 * len(selected["gcp"]), 2 * len(selected["azure"])])
        _wait(lambda: len(_alerts(out)) >= len(selected["gcp"]) + len(selected["azure"]))
        time.sleep(1)  # nothing more is coming
        health = json.loads(_get(port, "/healthz"))
        assert [s["kind"] for s in health["sources"]] == ["gcp", "azure"]
        assert all(s["parse_errors"] == 0 and s["status"] == "ok" for s in health["sources"])
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    fired = sorted(a["rule_id"] for a in _alerts(out))
    assert fired == sorted(c["rule"] for p in ("gcp", "azure") for c in selected[p])
