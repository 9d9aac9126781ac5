"""`containerguard baseline`: list, show, change the mode of, lock, export, import and edit behavioural baselines;
`containerguard profile seccomp`: a seccomp profile from what a container was seen to use."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from containerguard.errors import BaselineError, UsageError

if TYPE_CHECKING:
    from containerguard.runtime.baseline import BaselineStore
    from containerguard.runtime.baseline.profile import Profile

baseline_app = typer.Typer(help="Behavioural baselines the agent learns (docs/baselines.md).", no_args_is_help=True)


class Fmt(StrEnum):
    table = "table"
    json = "json"


class Mode(StrEnum):
    learn = "learn"
    monitor = "monitor"
    protect = "protect"


DirOpt = Annotated[Path | None, typer.Option(
    "--baseline-dir", help="Where the agent keeps baselines (default: the user's data directory)")]
WorkloadArg = Annotated[str, typer.Argument(help="Workload key, a unique key prefix, or its name pattern")]


def _store(directory: Path | None, *, create: bool = False) -> BaselineStore:
    """The baseline store; only ``import`` makes one (every other command needs baselines to be there)."""
    from containerguard.runtime.baseline import BaselineStore
    from containerguard.runtime.baseline.store import default_dir

    return BaselineStore(directory or default_dir(), create=create)


def _say(text: str) -> None:
    """One line for a person: workload names come from container names and labels, shown with control
    characters made visible."""
    from containerguard.report.terminal import clean

    typer.echo(clean(text, oneline=True))


@baseline_app.command("list")
def list_baselines(baseline_dir: DirOpt = None, fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table) -> None:
    """List workloads with their mode, lock and size (none before an agent has learned any)."""
    from containerguard.runtime.baseline.store import DB_NAME, default_dir

    directory = baseline_dir or default_dir()
    profiles = _loaded(_store(directory)) if (directory / DB_NAME).is_file() else []
    if fmt is Fmt.json:
        for p in profiles:
            typer.echo(json.dumps({"workload": p.key, "image": p.image, "name_pattern": p.name_pattern,
                                   "mode": p.mode, "locked": p.locked, "entries": p.size(),
                                   "deviations": len(p.deviations), "version": p.version}))
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    print_table(f"{len(profiles)} workloads in {directory}",
                [Column("workload", 1), Column("image", 2), "mode", "locked", Column("entries", right=True),
                 Column("deviations", right=True)],
                [[p.key, p.image, p.mode, "yes" if p.locked else "no", p.size(), len(p.deviations)] for p in profiles])


@baseline_app.command("show")
def show(workload: WorkloadArg, baseline_dir: DirOpt = None,
         fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table) -> None:
    """Show one workload's baseline entries."""
    p = _store(baseline_dir).find(workload)
    if fmt is Fmt.json:
        typer.echo(json.dumps({**p.to_doc(), "version": p.version}, indent=1))
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    print_table(f"{p.key} ({p.image}): {p.mode}{', locked' if p.locked else ''}", ["kind", Column("entry", 1)],
                [[kind, e] for kind, entries in p.to_doc().items() if isinstance(entries, list) for e in entries])


def _loaded(store: BaselineStore) -> list[Profile]:
    """Every readable baseline; each row that cannot be read is one warning line on stderr (the others are still
    listed or exported, and the damaged row is left as it is for 'baseline import' to replace)."""
    from containerguard.report.terminal import clean

    profiles = store.load_all()
    for why in store.unreadable.values():
        typer.echo(f"warning: {clean(why, oneline=True)}; skipped", err=True)
    return profiles


def _update(directory: Path | None, workload: str, change: str, **values: object) -> None:
    store = _store(directory)
    for _ in range(5):  # the agent may save what it learned meanwhile: retry over its version
        p = store.find(workload)
        expect = p.version
        for k, v in values.items():
            setattr(p, k, v)
        if store.save(p, expect_version=expect):
            _say(f"{p.key}: {change}")
            return
    raise BaselineError(f"{workload}: the baseline kept changing; try again")


@baseline_app.command("mode")
def mode(workload: WorkloadArg, new_mode: Annotated[Mode, typer.Argument(metavar="MODE")],
         baseline_dir: DirOpt = None) -> None:
    """Set the mode of a workload and of the other workloads of its image: learn, monitor or protect (a running
    agent applies it to every running container of the image within a second)."""
    for p in _store(baseline_dir).set_mode(workload, new_mode.value):
        _say(f"{p.key}: mode {new_mode.value}")


@baseline_app.command("lock")
def lock(workload: WorkloadArg, baseline_dir: DirOpt = None) -> None:
    """Freeze a workload: no learning and no automatic promotion until unlocked."""
    _update(baseline_dir, workload, "locked", locked=True)


@baseline_app.command("unlock")
def unlock(workload: WorkloadArg, baseline_dir: DirOpt = None) -> None:
    """Let a workload learn and be promoted again."""
    _update(baseline_dir, workload, "unlocked", locked=False)


@baseline_app.command("export")
def export(workload: Annotated[list[str] | None, typer.Argument(help="Workloads (default: all)")] = None,
           baseline_dir: DirOpt = None,
           output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout)")] = None) -> None:
    """Write baselines as YAML (for review, version control or another host)."""
    from containerguard.runtime.baseline import export_yaml

    store = _store(baseline_dir)
    # two names of one workload (its key and its pattern, or a name given twice) export it once: an export
    # always imports back
    profiles = list({p.key: p for p in (store.find(w) for w in workload)}.values()) if workload else _loaded(store)
    from containerguard.cli._output import emit

    emit(export_yaml(profiles), output)


def _read(file: Path) -> str:
    """A baseline file's text: a regular file, at most the YAML size cap, UTF-8 (errors name the file and line)."""
    from containerguard import yamlsafe
    from containerguard.runtime.baseline.yamlio import decode

    try:
        if not file.exists():
            raise UsageError(f"{file}: cannot read: no such file")
        if not file.is_file():
            raise UsageError(f"{file}: not a regular file")
        with file.open("rb") as fh:
            data = fh.read(yamlsafe.MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror or exc}") from None
    if len(data) > yamlsafe.MAX_BYTES:
        raise BaselineError(f"{file}: larger than {yamlsafe.MAX_BYTES} bytes; nothing imported")
    return decode(data, str(file))


@baseline_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="YAML written by 'baseline export' (or edited)")],
            baseline_dir: DirOpt = None) -> None:
    """Load baselines from YAML, replacing those of the same workloads. A file that does not validate is refused
    with file:line and nothing changes."""
    from containerguard.runtime.baseline import import_yaml

    profiles = import_yaml(_read(file), str(file))  # validated whole before the store is opened (or made)
    _store(baseline_dir, create=True).replace_all(profiles)  # then written in one transaction
    typer.echo(f"imported {len(profiles)} baselines")


@baseline_app.command("edit")
def edit(workload: WorkloadArg, baseline_dir: DirOpt = None) -> None:
    """Edit a workload's baseline in $EDITOR; saved only when it validates (the agent keeps the previous one
    until then)."""
    from containerguard.runtime.baseline import export_yaml, import_yaml

    store = _store(baseline_dir)
    p = store.find(workload)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(editor)
    except ValueError as exc:
        raise UsageError(f"$VISUAL/$EDITOR {editor!r}: {exc}; the baseline is unchanged") from None
    if not argv:
        raise UsageError("$VISUAL/$EDITOR is blank; the baseline is unchanged")
    fd, name = tempfile.mkstemp(prefix="cg-", suffix="-baseline.yaml")
    path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(export_yaml([p]))
    try:
        rc = subprocess.run([*argv, str(path)], check=False).returncode
    except OSError as exc:  # no such editor, not executable
        rc, why = -1, f"cannot run {argv[0]!r}: {exc.strerror or exc}"
    else:
        why = f"{editor} exited with {rc}"
    if rc != 0:
        path.unlink(missing_ok=True)
        raise UsageError(f"{why}; the baseline is unchanged")
    try:  # refused: the edit stays in the file the error names, to fix and 'baseline import'
        text = _read(path)
        edited = import_yaml(text, str(path))
        if [e.key for e in edited] != [p.key]:
            raise BaselineError(f"{path}:1: an edit keeps the one workload {p.key!r} (use 'baseline import' to "
                                "add or rename workloads); the baseline is unchanged")
    except BaselineError as exc:
        raise BaselineError(f"{exc}; the baseline is unchanged, the edit is kept in {path}") from None
    if edited[0].mode == "learn" and p.mode != "learn":  # back to learning: a fresh quiet period, as 'mode' gives
        edited[0].last_change_ns = max(edited[0].last_change_ns, time.time_ns())
    saved = store.save_edit(p, edited[0])  # what the agent saved while the editor was open is kept
    path.unlink(missing_ok=True)
    _say(f"{p.key}: saved" + ("" if saved.version == p.version + 1 else
                              " (merged with what the agent saved meanwhile)"))


def register(app: typer.Typer) -> None:
    """Add ``baseline`` and ``profile`` to the top-level app."""
    app.add_typer(baseline_app, name="baseline")
    from containerguard.cli.profile import profile_app

    app.add_typer(profile_app, name="profile")


def register_baseline(app: typer.Typer) -> None:
    """Add ``baseline`` to the top-level app."""
    app.add_typer(baseline_app, name="baseline")


def register_profile(app: typer.Typer) -> None:
    """Add ``profile`` to the top-level app."""
    from containerguard.cli.profile import profile_app

    app.add_typer(profile_app, name="profile")
