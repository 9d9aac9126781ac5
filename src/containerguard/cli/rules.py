"""`containerguard rules`: validate rules files, replay recorded events through them, list rules and fields."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from containerguard.errors import RuleError, UsageError

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable, Iterable, Iterator

    from containerguard.model import Alert, Event, Priority
    from containerguard.runtime.events import ReadStats
    from containerguard.runtime.rules import RuleSet

# the rules engine and Rich are imported inside the commands: registering this group stays cheap

rules_app = typer.Typer(help="Runtime rules (Falco language): validate, replay recorded events, list.",
                        no_args_is_help=True)


class Fmt(StrEnum):
    table = "table"
    json = "json"


class FieldsFmt(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


RulesOpt = Annotated[list[Path] | None, typer.Option(
    "--rules", "-r", help="Rules file (repeatable; later files append to/override earlier ones). "
    "Default: the built-in ruleset and rules files installed plugins register (entry points containerguard.rules).")]


def _say(text: str, *, err: bool = False) -> None:
    """One line that may quote a rules file, a recording or a file name: control characters and line breaks are
    shown escaped, never passed to the terminal (a rule named with ESC ] 0 ; ... BEL would retitle it)."""
    from containerguard.report.terminal import clean

    typer.echo(clean(text, oneline=True), err=err)


MinPriorityOpt = Annotated[str | None, typer.Option(
    "--min-priority", help="Run only rules of this priority or a more severe one (Falco's `priority` setting), "
    "e.g. warning.")]


def _load(rules: list[Path] | None, min_priority: str | None = None) -> RuleSet:
    from containerguard.cli._options import priority
    from containerguard.runtime.rules import builtin_and_plugin_rules, load_rules
    return load_rules(rules or builtin_and_plugin_rules(), min_priority=priority(min_priority, "--min-priority"))


@rules_app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Rules files, loaded together in order (as falco -V does).")],
    fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table,
    any_host: Annotated[bool, typer.Option(
        "--any-host", help="Check the language only: do not disable rules needing fields or syscalls this host's "
        "agent cannot supply.")] = False,
) -> None:
    """Load rules files and print their errors and warnings, and the rules this host's agent cannot run (the field
    or syscall each needs). Exit 0 when they load, 1 on an error."""
    from containerguard.runtime.agent import host_support
    from containerguard.runtime.rules import load_rules

    error: RuleError | None = None
    warnings: list[str] = []
    count = 0
    disabled: list[dict[str, object]] = []
    unsupplied: dict[str, list[str]] = {}
    fields, traced = (None, None) if any_host else host_support()
    try:
        rs = load_rules(files, available_fields=fields, traced_event_types=traced)
        warnings, count = rs.warnings, len(rs.rules)
        for r in rs.rules:
            if r.disabled_reason and r.disabled_reason != "enabled: false":
                disabled.append({"rule": r.name, "file": r.file, "line": r.line, "reason": r.disabled_reason,
                                 "missing": list(r.missing)})
                for m in r.missing:
                    unsupplied.setdefault(m, []).append(r.name)
    except RuleError as exc:
        error = exc
    names = ", ".join(str(f) for f in files)
    if fmt is Fmt.json:
        typer.echo(json.dumps({"files": [str(f) for f in files], "ok": error is None,
                               "errors": [str(error)] if error else [], "warnings": warnings, "rules": count,
                               "disabled": disabled, "unsupplied": unsupplied}))
    else:
        for w in warnings:
            _say(f"warning: {w}", err=True)
        if error is not None:
            _say(f"error: {error}", err=True)
            _say(f"{names}: Invalid")
        else:
            if unsupplied:
                typer.echo("Cannot run here (the missing field or event type: the rules it disables):")
                for what, rules in sorted(unsupplied.items()):
                    _say(f"  {what}: {', '.join(rules)}")
            _say(f"{names}: Ok ({count} rules, {len(disabled)} disabled on this host, "
                       f"{len(warnings)} warnings)")
    if error is not None:
        # SystemExit, not typer.Exit: cli.main runs click with standalone_mode=False, which returns (and main then
        # drops) typer.Exit's code; SystemExit reaches main's handler and becomes the process exit code.
        raise SystemExit(1)


@rules_app.command("replay")
def replay(
    events: Annotated[list[Path] | None, typer.Option("--events", "-e", help="Recorded events (JSON lines, docs/events.md); '-' for stdin. With --source: that source's own log files or directories.")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", "-s", help="Read --events as native audit logs of this kind: cloudtrail (CloudTrail files, gzip "
        "or plain), gcp (Cloud Audit LogEntry / Pub/Sub export), azure (Activity Log), k8s_audit.")] = None,
    k8s_audit: Annotated[list[Path] | None, typer.Option("--k8s-audit", help="Kubernetes audit log: Event, EventList or JSON array.")] = None,
    rules: RulesOpt = None,
    fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.json,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first malformed event line (exit 2).")] = False,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when an alert has this priority or a higher one (e.g. warning).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-j", min=1, help="With --source: processes that decompress, parse and evaluate files in "
        "parallel (alerts still in file order). Default: the number of cores; 1 reads in this process.")] = None,
    min_priority: MinPriorityOpt = None,
) -> None:
    """Evaluate recorded events against rules and print the alerts (Falco-compatible JSON lines or a table)."""
    from containerguard.runtime.evaluate import Evaluator, replay_events
    from containerguard.runtime.events import ReadStats
    from containerguard.runtime.rules import alert_to_json, builtin_and_plugin_rules, load_rules

    if not events and not k8s_audit:
        raise UsageError("give --events FILE and/or --k8s-audit FILE")
    kind = _source_kind(source, events)
    # each skipped record is printed once, below (the sources also log it, for the agent's log)
    logging.getLogger("containerguard.runtime.cloud").addHandler(logging.NullHandler())
    from containerguard.cli._options import priority
    threshold = priority(fail_on, "--fail-on")
    rs = _load(rules, min_priority)
    evaluator = Evaluator(rs)  # the agent's evaluation path
    alerts: list[Alert] = []
    stats = ReadStats()
    worst: Priority | None = None
    stream: Iterable[tuple[Event, list[Alert] | None]] = (
        (ev, None) for ev in replay_events([] if kind else events or [], k8s_audit or [], strict=strict, stats=stats))
    if kind is not None:
        rule_paths = [str(p) for p in (rules or builtin_and_plugin_rules())]
        # the pool's processes load the very same ruleset (a picklable loader when a minimum priority is set)
        loader: list[str] | Callable[[], RuleSet] = rule_paths if rs.min_priority is None else functools.partial(
            load_rules, rule_paths, min_priority=rs.min_priority)
        stream = itertools.chain(_source_events(kind, events or [], strict, stats, loader, workers,
                                                rs.eval_errors), stream)
    for ev, done in stream:
        batch = evaluator.evaluate(ev) if done is None else done
        if not batch:
            continue
        top = max(a.priority for a in batch)
        worst = top if worst is None else max(worst, top)
        if fmt is Fmt.json:
            sys.stdout.write("".join(json.dumps(alert_to_json(a)) + "\n" for a in batch))
        else:
            alerts.extend(batch)
    if fmt is Fmt.table:
        _alert_table(alerts, stats.read)
    _replay_warnings(rs, stats, "malformed event lines" if kind is None else "malformed files or records")
    if threshold is not None and worst is not None and worst >= threshold:
        raise SystemExit(1)  # see validate: SystemExit carries the code through cli.main


def _source_kind(source: str | None, events: list[Path] | None) -> str | None:
    if source is None:
        return None
    from containerguard.runtime.cloud.sources import kind_of

    if events and any(str(p) == "-" for p in events):
        raise UsageError("--source reads files or directories, not standard input")
    return kind_of(source)


def _source_events(kind: str, paths: list[Path], strict: bool, stats: ReadStats, rules: list[str] | Callable[[], RuleSet],
                   workers: int | None, eval_errors: Counter[str]) -> Iterator[tuple[Event, list[Alert] | None]]:
    """Events of a native audit log (cloudtrail, gcp, azure, k8s_audit), with the alerts when a pool of ``workers``
    evaluated ``rules`` on them (their evaluation errors added to ``eval_errors``); --strict stops at the first
    bad record (and reads in this process)."""
    from containerguard.runtime.cloud.health import SourceHealth
    from containerguard.runtime.cloud.reader import ReadPool, default_workers
    from containerguard.runtime.cloud.sources import replay_evaluated

    health = SourceHealth(kind, kind)
    n = 1 if strict else workers or default_workers()
    pool = ReadPool(n, rules) if n > 1 else None
    try:
        for item in replay_evaluated(kind, list(paths), health, pool=pool):
            if strict and health.parse_errors:
                break  # nothing after the first bad record or file
            yield item
    finally:
        if pool is not None:
            eval_errors.update(pool.eval_errors)
            pool.close()
    stats.read += health.events
    stats.skipped += health.parse_errors
    stats.errors.extend(list(health.recent_warnings)[: max(0, 20 - len(stats.errors))])
    if strict and health.parse_errors:
        raise UsageError(f"malformed input: {health.recent_warnings[0] if health.recent_warnings else '?'}")


def _alert_table(alerts: list[Alert], read: int) -> None:
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column
    from containerguard.runtime.rules import alert_to_json, priority_name

    print_table(f"{len(alerts)} alerts from {read} events",
                ["time", "priority", "rule id", Column("rule", 1), "container", Column("output", 2)],
                [[alert_to_json(a)["time"], priority_name(a), a.rule_id, a.rule, a.container_id or "-", a.output]
                 for a in alerts])


def _replay_warnings(rs: RuleSet, stats: ReadStats, what: str) -> None:
    for msg in stats.errors:
        _say(f"warning: skipped {msg}", err=True)
    if stats.skipped:
        typer.echo(f"warning: {stats.skipped} {what} skipped", err=True)
    for msg in stats.field_errors:
        _say(f"warning: {msg}", err=True)
    if stats.bad_fields:
        typer.echo(f"warning: {stats.bad_fields} field{'s' if stats.bad_fields > 1 else ''} of the wrong type "
                   "evaluated as <NA>", err=True)
    if rs.eval_errors:
        _say(f"warning: {sum(rs.eval_errors.values())} rule evaluation errors "
                   f"({', '.join(sorted(rs.eval_errors))})", err=True)


@rules_app.command("list")
def list_rules(rules: RulesOpt = None, fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table,
               min_priority: MinPriorityOpt = None) -> None:
    """List the rules (default: the built-in ruleset) with id, priority, source, state and tags."""
    rs = _load(rules, min_priority)
    if fmt is Fmt.json:
        for r in rs.rules:
            typer.echo(json.dumps({
                "id": r.id, "rule": r.name, "priority": r.priority.name.capitalize(), "source": r.source,
                "enabled": r.enabled, "disabled_reason": r.disabled_reason, "tags": list(r.tags),
                "actions": list(r.actions), "event_types": sorted(r.event_types) if r.event_types is not None else None,
                "desc": r.desc, "file": r.file, "line": r.line}))
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    print_table(f"{len(rs.rules)} rules",
                ["id", Column("rule", 2), "priority", Column("source", 1), "enabled", Column("tags", 3)],
                [[r.id, r.name, r.priority.name.capitalize(), r.source, "yes" if r.enabled else "no",
                  ", ".join(r.tags)] for r in rs.rules])


@rules_app.command("fields")
def fields(fmt: Annotated[FieldsFmt, typer.Option("--format", "-f")] = FieldsFmt.table) -> None:
    """List the fields conditions and outputs may use, with the producer that fills each in (docs/fields.md)."""
    from containerguard.runtime.rules.fields import FIELD_CATALOG, catalog_markdown

    if fmt is FieldsFmt.json:
        typer.echo(json.dumps({k: v._asdict() for k, v in sorted(FIELD_CATALOG.items())}, indent=1))
        return
    if fmt is FieldsFmt.markdown:
        typer.echo(catalog_markdown())
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    print_table(f"{len(FIELD_CATALOG)} fields",
                ["field", "type", Column("producer", 1), Column("source", 1), Column("argument", 1),
                 Column("description", 2)],
                [[name, spec.type, spec.producer, spec.source, spec.arg, spec.description]
                 for name, spec in sorted(FIELD_CATALOG.items())])


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(rules_app, name="rules")
