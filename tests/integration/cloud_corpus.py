"""The cloud audit test corpus (tests/data/cloud/*_cases.yaml): cases -> records -> files laid out as the
providers deliver them, and alerts mapped back to cases by event time."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "cloud"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def merge(base: Any, over: Any) -> Any:
    """Deep merge: dicts merge key by key, None removes a key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def cases(provider: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((DATA / f"{provider}_cases.yaml").read_text()))


def stamp(i: int, kind: str) -> str:
    """A distinct event time per (case, match|miss): alerts carry it, so they map back to their case."""
    t = T0 + timedelta(minutes=i * 2 + (1 if kind == "miss" else 0))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_key(alert: dict[str, Any]) -> str:
    return str(alert["time"])[:19] + "Z"


def cloudtrail_records(selected: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    base = json.loads((DATA / "cloudtrail_base.json").read_text())
    out = []
    for i, case in enumerate(selected):
        for kind in ("match", "miss"):
            rec = merge(base, case[kind])
            rec["eventTime"] = stamp(i, kind)
            rec["eventID"] = f"case-{i}-{kind}"
            out.append((kind, rec))
    return out


def write_cloudtrail_delivery(root: Path, records: list[dict[str, Any]], per_file: int = 5) -> list[Path]:
    """Records in CloudTrail's S3 layout: AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_
    YYYYMMDDTHHMMZ_ID.json.gz, each file a gzip {"Records": [...]} document."""
    paths = []
    for n in range(0, len(records), per_file):
        chunk = records[n:n + per_file]
        t = datetime.strptime(chunk[0]["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        region = chunk[0].get("awsRegion", "us-east-1")
        d = root / "AWSLogs" / "123456789012" / "CloudTrail" / region / t.strftime("%Y/%m/%d")
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"123456789012_CloudTrail_{region}_{t.strftime('%Y%m%dT%H%MZ')}_{n:06d}abc.json.gz"
        p.write_bytes(gzip.compress(json.dumps({"Records": chunk}).encode()))
        paths.append(p)
    return paths


def provider_records(provider: str, selected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GCP LogEntry or Azure activity records for the selected cases, in case order (match, miss, ...)."""
    base = json.loads((DATA / f"{provider}_base.json").read_text())
    out = []
    for i, case in enumerate(selected):
        for kind in ("match", "miss"):
            rec = merge(base, case[kind])
            if provider == "gcp":
                rec["timestamp"] = stamp(i, kind)
                rec["insertId"] = f"case-{i}-{kind}"
            elif provider == "k8s":
                rec["stageTimestamp"] = rec["requestReceivedTimestamp"] = stamp(i, kind)
                rec["auditID"] = f"case-{i}-{kind}"
            else:
                rec["time"] = stamp(i, kind)
                rec["correlationId"] = f"case-{i}-{kind}"
            out.append(rec)
    return out


def write_gcp_sink(root: Path, entries: list[dict[str, Any]]) -> Path:
    """A Cloud Storage log sink's hourly file: one LogEntry per line."""
    d = root / "cloudaudit.googleapis.com" / "activity" / "2024" / "05" / "01"
    d.mkdir(parents=True, exist_ok=True)
    p = d / "12:00:00_12:59:59_S0.json"
    p.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return p


def write_pubsub_export(root: Path, entries: list[dict[str, Any]]) -> Path:
    """A Pub/Sub pull response saved to a file: each LogEntry base64-encoded in a message's data."""
    import base64

    msgs = [{"ackId": f"ack-{i}", "message": {"data": base64.b64encode(json.dumps(e).encode()).decode(),
                                               "messageId": str(1000 + i), "publishTime": e["timestamp"]}}
            for i, e in enumerate(entries)]
    root.mkdir(parents=True, exist_ok=True)
    p = root / "pubsub-pull.json"
    p.write_text(json.dumps({"receivedMessages": msgs}))
    return p


def write_azure_export(root: Path, records: list[dict[str, Any]]) -> Path:
    """A diagnostic-settings export blob (insights-activity-logs/.../PT1H.json): one record per line."""
    d = root / "insights-activity-logs" / "resourceId=" / "SUBSCRIPTIONS" / "11111111-2222-3333-4444-555555555555" / \
        "y=2024" / "m=05" / "d=01" / "h=12" / "m=00"
    d.mkdir(parents=True, exist_ok=True)
    p = d / "PT1H.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    return p


def write_audit_log(root: Path, events: list[dict[str, Any]]) -> Path:
    """The API server's log backend file (--audit-log-path): one Event per line."""
    root.mkdir(parents=True, exist_ok=True)
    p = root / "kube-apiserver-audit.log"
    p.write_text("".join(json.dumps(e) + "\n" for e in events))
    return p
