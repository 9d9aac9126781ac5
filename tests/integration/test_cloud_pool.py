"""Reading audit-log directories with a pool of worker processes (runtime/cloud/reader.py ReadPool): the same
events, health, warnings and incremental state as reading in one process; per-source state (secret reads
counted per principal) kept in delivery order across files read by different workers; rules evaluated in the
workers giving the same alerts, in the same order, as `rules replay --workers 1`."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.integration.cloud_corpus import (
    DATA,
    cases,
    cloudtrail_records,
    merge,
    provider_records,
    write_cloudtrail_delivery,
)

from containerguard.cli.main import main
from containerguard.runtime.cloud.cloudtrail import CloudTrailParser
from containerguard.runtime.cloud.gcp import GcpAuditParser
from containerguard.runtime.cloud.health import SourceHealth
from containerguard.runtime.cloud.reader import DirectoryState, ReadPool, read_directory
from containerguard.runtime.events import event_to_json


@pytest.fixture(scope="module")
def pool():
    p = ReadPool(2)
    yield p
    p.close()


def _secret_reads(n: int, who: str = "mallory") -> list[dict[str, Any]]:
    base = json.loads((DATA / "cloudtrail_base.json").read_text())
    return [merge(base, {"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                         "eventTime": f"2024-05-02T10:{i // 6:02d}:{(i % 6) * 10:02d}Z", "eventID": f"s{i}",
                         "requestParameters": {"secretId": f"prod/s{i}"},
                         "userIdentity": {"type": "IAMUser", "userName": who,
                                          "arn": f"arn:aws:iam::123456789012:user/{who}"}}) for i in range(n)]


def _trail(root: Path) -> None:
    recs = [r for _, r in cloudtrail_records([c for c in cases("cloudtrail") if c["ruleset"] == "cg"])]
    write_cloudtrail_delivery(root, recs, per_file=3)
    write_cloudtrail_delivery(root / "burst", _secret_reads(25), per_file=2)  # one principal, 13 files
    bad = root / "AWSLogs" / "bad"
    bad.mkdir(parents=True)
    good = gzip.compress(json.dumps({"Records": recs[:2]}).encode())
    (bad / "a_truncated.json.gz").write_bytes(good[: len(good) // 2])
    (bad / "b_malformed.json").write_text('{"Records": [{"eventName": "x",')
    huge = dict(recs[0], eventID="huge", requestParameters={"blob": "A" * (300 << 10)})
    (bad / "c_mixed.json").write_text(json.dumps({"Records": [huge, {"eventName": "NoTime"}, 7, recs[1]]}))
    (bad / "d_unreadable.json").write_text("{}")
    os.chmod(bad / "d_unreadable.json", 0)


def _read(root: Path, pool: ReadPool | None, state: DirectoryState | None = None,
          parser: Any = None) -> tuple[list[dict[str, Any]], SourceHealth]:
    h = SourceHealth("t", "cloudtrail")
    evs = [event_to_json(ev) for ev in read_directory(root, parser or CloudTrailParser(), h,
                                                      state if state is not None else DirectoryState(), pool=pool)]
    return evs, h


def test_pool_reads_what_one_process_reads(tmp_path, pool):
    _trail(tmp_path)
    one, h1 = _read(tmp_path, None)
    many, h2 = _read(tmp_path, pool)
    assert len(one) > 50 and many == one  # every field of every event, in the same order
    for k in ("events", "parse_errors", "files", "bytes", "newest_event_ns"):
        assert getattr(h2, k) == getattr(h1, k), k
    warnings = sorted(h2.recent_warnings)
    assert warnings == sorted(h1.recent_warnings)
    text = "\n".join(warnings)
    for needle in ("a_truncated.json.gz: truncated gzip", "b_malformed.json: not JSON",
                   "c_mixed.json: record 1: requestParameters is", "c_mixed.json: record 2",
                   "c_mixed.json: record 3", "d_unreadable.json: cannot read"):
        if needle.startswith("d_") and os.geteuid() == 0:
            continue  # root reads a mode-0 file
        assert needle in text, needle
    # the per-source state is counted in delivery order across the files the workers read
    counts = [e["fields"]["ct.user.secretreads"] for e in many if e["fields"].get("ct.id", "").startswith("s")]
    assert counts == list(range(1, 26))


def test_pool_keeps_incremental_state(tmp_path, pool):
    """New files and lines appended to a JSON-lines file are read once, whether read by the pool or not."""
    entries = provider_records("gcp", [c for c in cases("gcp") if c["ruleset"] == "cg"])
    lines = [(json.dumps(e) + "\n").encode() for e in entries]
    sink = tmp_path / "sink"
    sink.mkdir()
    for i in range(4):
        (sink / f"{i}.json").write_bytes(b"".join(lines[:3]))
    (sink / "4.json").write_bytes(b"".join(lines[:3]) + lines[3][:25])  # a line still being written
    state = DirectoryState()
    evs, h = _read(tmp_path, pool, state, GcpAuditParser())
    assert len(evs) == 15 and h.parse_errors == 0
    assert _read(tmp_path, pool, state, GcpAuditParser())[0] == []
    with (sink / "4.json").open("ab") as fh:
        fh.write(lines[3][25:] + lines[4])
    os.utime(sink / "4.json", ns=(1, 2))
    (sink / "5.json").write_bytes(lines[5])
    (sink / "6.json").write_bytes(lines[6])
    evs, h = _read(tmp_path, pool, state, GcpAuditParser())
    assert [e["fields"]["gcp.insertId"] for e in evs] == [entries[i]["insertId"] for i in (3, 4, 5, 6)]
    assert _read(tmp_path, pool, state, GcpAuditParser())[0] == []


def test_replay_workers_give_the_same_alerts(tmp_path, capsys):
    """`rules replay --source cloudtrail --workers 2` evaluates the rules in the workers: the same alerts in the
    same order as one process, bad files still counted and named, the burst alert raised once."""
    _trail(tmp_path)
    out = {}
    for n in ("1", "2"):
        rc = main(["rules", "replay", "--source", "cloudtrail", "--workers", n, "--events", str(tmp_path)])
        o, err = capsys.readouterr()
        assert rc in (0, None), err
        out[n] = ([json.loads(line) for line in o.splitlines()], err)
    alerts, err = out["2"]
    assert alerts == out["1"][0] and len(alerts) > 10
    assert len([a for a in alerts if a["rule_id"] == "CG-A012" and "mallory" in a["output"]]) == 1
    assert "b_malformed.json: not JSON" in err and "malformed files or records skipped" in err


def test_pool_switches_rules(tmp_path):
    """ReadPool.use (the agent's rule reload): reads started after it evaluate the new rules in new processes."""
    from containerguard.runtime.cloud.reader import evaluate_directory
    from containerguard.runtime.rules import cloud_rules_path

    recs = [r for _, r in cloudtrail_records([c for c in cases("cloudtrail") if c["ruleset"] == "cg"])]
    write_cloudtrail_delivery(tmp_path / "trail", recs, per_file=4)
    every = tmp_path / "every.yaml"
    every.write_text("- rule: Every call\n  desc: all\n  condition: ct.name exists\n  output: call %ct.name\n"
                     "  priority: NOTICE\n  source: aws_cloudtrail\n")
    pool = ReadPool(2, [str(cloud_rules_path())])

    def alerts() -> int:
        """Alerts from the workers, plus the events handed back to be evaluated here (per-source state)."""
        h = SourceHealth("t", "cloudtrail")
        got = 0
        for _, done in evaluate_directory(tmp_path / "trail", CloudTrailParser(), h, DirectoryState(), pool=pool):
            got += 1 if done is None else len(done)
        assert h.events == len(recs)
        return got

    try:
        assert 0 < alerts() < len(recs)
        pool.use([str(every)])
        assert alerts() == len(recs)  # every event alerts (or comes back to be evaluated)
    finally:
        pool.close()
