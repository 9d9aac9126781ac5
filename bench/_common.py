"""What the bench scripts share: one line per measured figure, printed beside its target with a verdict."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: the `containerguard` entry point beside the running interpreter
CLI = str(Path(sys.executable).with_name("containerguard"))


def target_line(label: str, value: float, target: float, unit: str, *, at_least: bool = False,
                fmt: str = "7.2f", note: str = "") -> bool:
    """Print ``LABEL  VALUE UNIT  target <= TARGET UNIT  OK|FAIL`` (``>=`` with ``at_least``); True if met."""
    ok = value >= target if at_least else value <= target
    op = ">=" if at_least else "<="
    tfmt = ",.0f" if float(target).is_integer() else ",g"
    print(f"{label:<32} {value:{fmt}} {unit:<10} target {op} {target:{tfmt}} {unit:<10} {'OK' if ok else 'FAIL'}"
          + (f"   {note}" if note else ""))
    return ok


def app_image_scan(default_runs: int) -> tuple[argparse.Namespace, Path, list[str]]:
    """``--db PATH`` / ``--runs N``; the application image's docker-archive and the ``containerguard scan``
    command over it (JSON to /dev/null, quiet) with that database (built from the local mirror by default)."""
    from tests.fixtures import env, vulnmirror
    from tests.fixtures.app_image import app_image

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path)
    ap.add_argument("--runs", type=int, default=default_runs)
    args = ap.parse_args()
    db = args.db or vulnmirror.built_db()
    tar = env.docker_save(app_image().tag)
    return args, tar, [CLI, "scan", f"docker-archive:{tar}", "--db", str(db), "-f", "json", "-o", "/dev/null", "-q"]
