"""CloudTrail as it is really delivered, and hostile text in it, through `rules replay --source cloudtrail`:
digest files (CloudTrail-Digest/, written beside the logs when log file validation is on) are not log files and
are skipped without a warning; control characters in record ids, file names and reasons never reach the terminal
raw (an OSC title, a screen clear or a forged line in a warning)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from containerguard.cli.main import main

ACCOUNT = "111122223333"


def _record(i: int, **kw: Any) -> dict[str, Any]:
    rec = {"eventVersion": "1.09",
           "userIdentity": {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                            "accountId": ACCOUNT},
           "eventTime": f"2026-11-27T10:00:{i:02d}Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
           "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
           "requestParameters": {"userName": f"u{i}"}, "responseElements": None, "eventID": f"e-{i}",
           "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
           "eventCategory": "Management"}
    rec.update(kw)
    return rec


def _digest(hour: int) -> dict[str, Any]:
    return {"awsAccountId": ACCOUNT, "digestStartTime": f"2026-11-27T{hour:02d}:00:00Z",
            "digestEndTime": f"2026-11-27T{hour + 1:02d}:00:00Z", "digestS3Bucket": "trail-bucket",
            "digestS3Object": f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/27/d{hour}.json.gz",
            "digestPublicKeyFingerprint": "0f0e", "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": f"2026-11-27T{hour:02d}:59:00Z", "oldestEventTime": f"2026-11-27T{hour:02d}:00:00Z",
            "previousDigestS3Bucket": None, "previousDigestS3Object": None, "previousDigestHashValue": None,
            "previousDigestHashAlgorithm": None, "previousDigestSignature": None,
            "logFiles": [{"s3Bucket": "trail-bucket", "s3Object": "x.json.gz", "hashValue": "ab",
                          "hashAlgorithm": "SHA-256", "newestEventTime": "2026-11-27T10:00:00Z",
                          "oldestEventTime": "2026-11-27T10:00:00Z"}]}


def _replay(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[dict[str, Any]], str]:
    args = ["rules", "replay", "--source", "cloudtrail", "--workers", "1"]
    for p in paths:
        args += ["--events", str(p)]
    rc = main(args)
    out, err = capsys.readouterr()
    return rc or 0, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_digest_files_are_not_malformed_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "11" / "27"
    digests = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "11" / "27"
    logs.mkdir(parents=True)
    digests.mkdir(parents=True)
    (logs / f"{ACCOUNT}_CloudTrail_us-east-1_20261127T1000Z_a.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [_record(1), _record(2)]}).encode()))
    for hour in (9, 10):  # gzip as delivered, and a plain copy a user downloaded
        (digests / f"{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261127T{hour:02d}0000Z.json.gz"
         ).write_bytes(gzip.compress(json.dumps(_digest(hour)).encode()))
    (tmp_path / "digest-copy.json").write_text(json.dumps(_digest(11)))
    rc, alerts, err = _replay(capsys, tmp_path)
    assert rc == 0
    assert "Digest" not in err and "digest-copy" not in err and "malformed" not in err, err
    assert {a["rule_id"] for a in alerts} >= {"CG-A002"}  # the root account's calls still alert


@pytest.mark.parametrize("hostile", ["\x1b]0;owned\x07", "\x1b[2J\x1b[H", "line\nFORGED: all clear", "\u202eevil",
                                     "\x9b31m"])
def test_control_characters_in_warnings_are_visible_not_interpreted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: str) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.json").write_text(json.dumps({"Records": [_record(1, eventID=hostile, eventTime="not a time"),
                                                      _record(2)]}))
    (d / f"b{hostile.replace(chr(0), '')}.json").write_text("{not json")
    rc, alerts, err = _replay(capsys, d)
    assert rc == 0 and len(alerts) >= 1
    assert not any(c in err for c in "\x1b\x07\x9b\u202e"), repr(err)
    lines = err.strip().splitlines()
    assert all(line.startswith("warning: ") for line in lines), lines
    assert len(lines) == 3, lines  # two skipped, one count: each once, one line each
