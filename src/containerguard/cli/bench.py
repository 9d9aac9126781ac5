"""`containerguard bench docker`: CIS Docker Benchmark v1.6 (sections 1-5) against the local Engine and host,
printed PASS / WARN / INFO / NOTE per check id like docker-bench-security. Exits 0, or 1 with ``--fail-on WARN``
when a check warns (2 on errors)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from containerguard import __version__
from containerguard.cli._output import emit
from containerguard.errors import UsageError
from containerguard.report.terminal import clean

bench_app = typer.Typer(help="Compliance benchmarks.", no_args_is_help=True)

_STYLE = {"PASS": "green", "WARN": "bold red", "INFO": "yellow", "NOTE": "cyan"}


@bench_app.command("docker")
def docker_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    container: Annotated[list[str] | None, typer.Option("--container", "-c",
                                                       help="Only check these containers (name or id).")] = None,
    all_containers: Annotated[bool, typer.Option("--all", "-a",
                                                 help="Also audit created and stopped containers.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when a check has this status (WARN, or INFO/NOTE to be stricter).")] = None,
) -> None:
    """Run the CIS Docker Benchmark v1.6 checks that the Engine API and host files can decide."""
    from containerguard.cis.docker import Status, bench_docker

    if fmt not in ("table", "json"):
        raise UsageError(f"unknown format {fmt!r} for bench docker (table or json)")
    gate = None
    if fail_on is not None:
        names = {str(st).upper(): st for st in Status}
        if fail_on.strip().upper() not in names:
            raise UsageError(f"--fail-on {fail_on!r}: expected one of {', '.join(sorted(names))}")
        gate = names[fail_on.strip().upper()]
    results = bench_docker(container, all_containers=all_containers)
    emit(_render(results, fmt, color=output is None and sys.stdout.isatty()), output)
    if gate is not None and any(r.status is gate for r in results):
        raise SystemExit(1)


def _render(results: list[Any], fmt: str, *, color: bool) -> str:
    from containerguard.cis.docker import Status

    counts = {s.value: sum(1 for r in results if r.status is s) for s in Status}
    if fmt == "json":
        doc = {
            "benchmark": "CIS Docker Benchmark v1.6.0",
            "tool": {"name": "containerguard", "version": __version__},
            "results": [{"id": r.id, "check_id": r.check_id, "title": r.title, "status": str(r.status),
                         "details": list(r.details), "containers": list(r.containers)} for r in results],
            "summary": counts,
        }
        return json.dumps(doc, indent=2) + "\n"
    from containerguard.report.terminal import ANSI, fit, terminal_width

    width = terminal_width()

    def line(text: str, style: str = "") -> str:  # one line, cut to the terminal (full text in -f json)
        text = fit(text, width)
        return f"{ANSI[style]}{text}\x1b[0m" if color and style else text

    out: list[str] = []
    section = ""
    titles = {"1": "Host Configuration", "2": "Docker daemon configuration", "3": "Docker daemon configuration files",
              "4": "Container Images and Build File", "5": "Container Runtime"}
    for r in results:
        sec = r.id.split(".")[0]
        if sec != section:
            section = sec
            out += ["", line(f"[INFO] {sec} - {titles.get(sec, '')}", "bold")]
        st = str(r.status)
        out.append(line(f"[{st}] {r.id} - {clean(r.title, oneline=True)}", _STYLE[st]))
        out += [line(f"[{st}]      * {clean(d, oneline=True)}", _STYLE[st]) for d in r.details]
    out += ["", line("Section C - Score", "bold"),
            line(f"Checks: {len(results)}  " + "  ".join(f"{k}: {v}" for k, v in counts.items()))]
    return "\n".join(out) + "\n"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(bench_app, name="bench")
