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
