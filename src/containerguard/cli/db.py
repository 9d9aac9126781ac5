"""`containerguard db update|status`: build and inspect the local vulnerability database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from containerguard.errors import UsageError

# the database builder, its sources and Rich are imported inside the commands: registering this group
# (e.g. for --help) stays cheap

db_app = typer.Typer(help="The local vulnerability database.", no_args_is_help=True)


def _pairs(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for it in items or []:
        name, sep, url = it.partition("=")
        if not sep or not name or not url:
            raise UsageError(f"--source expects NAME=URL, got {it!r}")
        out[name.strip()] = url.strip()
    return out


@db_app.command("update")
def update(
    mirror: Annotated[str | None, typer.Option(help="Base URL laid out like shared/vulndata (osv/, alpine/, kev/, epss/).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Override one source base: osv=URL, alpine=URL, kev=URL, epss=URL.")] = None,
    db: Annotated[Path | None, typer.Option(help="Database file (default: $CONTAINERGUARD_DB or the user cache dir).")] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated OSV ecosystems (and Alpine, kev, epss) to fetch.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Download the feeds and rebuild the database atomically (unchanged sources are skipped)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from containerguard import vulndb

    console = Console(stderr=True)
    only_t = tuple(x.strip() for x in only.split(",") if x.strip()) if only else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[amount]}"),
                        TimeElapsedColumn(), console=console, transient=True, disable=quiet or not console.is_terminal)
    tasks: dict[str, Any] = {}

    def hook(phase: str, name: str, done: int, total: int | None) -> None:
        # downloads report bytes per file; build and index report sources/indexes done out of total
        key = "download:" + name if phase == "download" else phase
        if phase == "download":
            amount = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f} MB" if total else " MB")
            label = f"fetch {name}"
        else:
            amount = f"{done}/{total}" if total else str(done)
            label = f"{phase} {name}"
        if key not in tasks:
            tasks[key] = progress.add_task(label, total=total, amount=amount)
        progress.update(tasks[key], completed=done, total=total, description=label, amount=amount)

    if not quiet and not console.is_terminal:  # CI logs: plain, periodic lines instead of bars
        from containerguard.cli._output import PlainProgress

        plain = PlainProgress("db update")

        def hook(phase: str, name: str, done: int, total: int | None) -> None:  # the plain hook replaces the bar
            if phase == "download":
                amount = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f} MB" if total else " MB")
                plain.say(f"fetch {name}", f"fetch {name}: {amount}", force=bool(total and done >= total))
            else:
                plain.say(phase, f"{phase} {name}: {done}/{total}" if total else f"{phase} {name}: {done}",
                          force=bool(total and done >= total))

    with progress:
        res = vulndb.update(db, mirror=mirror, sources=_pairs(source), only=only_t, progress=hook)
    counts = {"updated": 0, "unchanged": 0, "error": 0, "absent": 0}
    for s in res.sources:
        counts[s.status] = counts.get(s.status, 0) + 1
    records = sum(s.records for s in res.sources)
    skipped = sum(s.skipped for s in res.sources)
    if not quiet:
        state = "rebuilt" if res.changed else "unchanged (all sources current)"
        print(f"{res.path}: {state} in {res.seconds:.1f} s; {counts['updated']} updated, {counts['unchanged']} unchanged, "
              f"{counts['error']} failed; {records} records, {skipped} skipped", file=sys.stderr)
    for s in res.errors:
        print(f"warning: {s.name}: {s.error} (previous data kept)" if s.records else f"warning: {s.name}: {s.error}",
              file=sys.stderr)
    if res.errors:
        raise SystemExit(1)


@db_app.command("status")
def status(
    db: Annotated[Path | None, typer.Option(help="Database file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Sources, record and skipped counts, build time and age."""
    from containerguard.vulndb import VulnDB

    with VulnDB(db) as handle:
        st = handle.status()
    if as_json:
        doc = {
            "path": str(st.path), "size": st.size, "built_at": st.built_at, "age_days": round(st.age_days, 3),
            "stale": st.stale, "schema_version": st.schema_version, "build_seconds": st.build_seconds,
            "checked_at": st.checked_at, "records": st.records, "skipped": st.skipped,
            "sources": [{"source": s.source, "url": s.url, "records": s.records, "skipped": s.skipped,
                         "skipped_detail": s.skipped_detail, "fetched_at": s.fetched_at, "status": s.status,
                         "error": s.error, "sha256": s.sha256} for s in st.sources],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column, wrap

    # the summary first (a terminal shows the table's end; the state is what a reader wants first)
    print(wrap(f"{st.path} ({st.size / 1e6:.1f} MB): built {st.built_at} in {st.build_seconds:.1f} s, "
               f"{st.age_days:.1f} days ago; {st.records} records, {st.skipped} skipped"
               + ("; STALE: run `containerguard db update`" if st.stale else ""), sep="; "))
    details = [", ".join(f"{k}: {v}" for k, v in s.skipped_detail.items() if v) for s in st.sources]
    print_table("Sources", [Column("source", 1), Column("records", right=True), Column("skipped", 2, right=True),
                            Column("status", 3), "fetched"],
                [[s.source, s.records, f"{s.skipped}" + (f" ({d})" if d else ""),
                  s.status + (f": {s.error}" if s.error else ""), s.fetched_at] for s, d in zip(st.sources, details,
                                                                                             strict=True)])


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(db_app, name="db")
