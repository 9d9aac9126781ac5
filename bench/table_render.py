"""The findings table for a very large result: 300,000 vulnerability findings rendered as the `scan`
table report (issue 9: "a 300,000-finding table renders in seconds, not minutes").

Above report.table.FAST_ROWS rows a table is drawn one line per row in linear time (Rich costs about a
millisecond a row: some five minutes for 300,000). Prints the render time next to its target.

    .venv/bin/python bench/table_render.py [--findings N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import target_line

from containerguard.model import Finding, FindingKind, Package, Severity
from containerguard.report import get_reporter


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=300_000)
    n = ap.parse_args().findings
    pkgs = [Package(f"pkg{i}", "1.0.0", "npm", f"pkg:npm/pkg{i}@1.0.0", (f"srv/node_modules/pkg{i}/package.json",))
            for i in range(500)]
    findings = [Finding(kind=FindingKind.VULNERABILITY, id=f"CVE-2024-{i:06d}", severity=Severity(i % 5 + 1),
                        title=f"advisory {i}: a long title about a flaw in the request parser that overflows",
                        package=pkgs[i % 500], fixed_versions=("1.0.1",), risk=float(i % 100))
                for i in range(n)]
    t0 = time.perf_counter()
    text = get_reporter("table")(None, findings, target="bench", tool_version="bench")
    seconds = time.perf_counter() - t0
    assert text.count("\n") >= n
    ok = target_line(f"table of {n:,} findings", seconds, 15.0, "s", note="(Rich alone: ~1 ms a row, ~5 min)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
