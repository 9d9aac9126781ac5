"""`containerguard policy`: list, validate, evaluate and unit-test policies (policies as code, issue 13).

``print_decision`` is the one rendering of a policy decision for people; ``scan --policy`` uses it too.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from containerguard.policy import Decision, PolicySet
    from containerguard.policy.loader import LivePolicies

policy_app = typer.Typer(help="Policies as code: list, validate, evaluate, test.", no_args_is_help=True)


class Fmt(StrEnum):
    table = "table"
    json = "json"


PolicyOpt = Annotated[list[Path] | None, typer.Option(
    "--policy", "-p", help="Policy file or directory (repeatable). A policy with a default policy's id replaces it.")]
NoDefaultsOpt = Annotated[bool, typer.Option("--no-defaults", help="Leave the built-in default policy set out.")]


def load(paths: list[Path] | None, no_defaults: bool = False) -> PolicySet:
    from containerguard.policy import load_policies

    return load_policies(paths or [], defaults=not no_defaults)


def live(paths: list[Path] | None, no_defaults: bool = False) -> LivePolicies:
    """Policies that SIGHUP reloads (the last good set stays when the files have an error, which is logged)."""
    import logging
    import signal
    import threading

    from containerguard.policy.loader import LivePolicies

    policies = LivePolicies(paths or [], defaults=not no_defaults)
    log = logging.getLogger("containerguard.policy")

    def reload() -> None:
        err = policies.reload()
        if err:
            log.error("policy reload failed, keeping the previous %d policies: %s", len(policies.current.policies), err)
        else:
            log.info("policies reloaded: %d policies", len(policies.current.policies))

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, name="cg-policy-reload").start())
    return policies


def _lit(text: object) -> str:
    """Text from the data for a Rich markup string: control characters made visible, markup escaped."""
    from rich.markup import escape

    from containerguard.report.terminal import clean

    return escape(clean(str(text), oneline=True))


def print_decision(console: Console, decision: Decision, *, show_inform: bool = False) -> None:
    """Violations grouped by action, blocking first: policy, on what, why, how to fix. Data is escaped."""
    order = {"fail-build": 0, "deny": 0, "kill_container": 0, "stop_container": 0, "pause_container": 0,
             "kill_process": 0, "alert": 1, "warn": 2, "inform": 3}
    shown = [v for v in decision.violations if show_inform or str(v.action) != "inform"]
    for v in sorted(shown, key=lambda v: (order.get(str(v.action), 9), v.policy_id, v.subject)):
        style = "bold red" if v.blocking else "yellow" if str(v.action) in ("warn", "alert") else "dim"
        console.print(f"[{style}]{_lit(str(v.action).upper())}[/] {_lit(v.policy_id)} {_lit(v.policy_name)} "
                      f"[dim]({_lit(v.severity)})[/] on {_lit(v.subject)}", highlight=False, soft_wrap=True)
        console.print(f"    {_lit(v.message)}", highlight=False, soft_wrap=True)
        for d in v.details[:20]:
            console.print(f"    - {_lit(d)}", highlight=False, soft_wrap=True)
        if len(v.details) > 20:
            console.print(f"    ... and {len(v.details) - 20} more", highlight=False, soft_wrap=True)
        if v.remediation:
            console.print(f"    [green]fix:[/] {_lit(v.remediation)}", highlight=False, soft_wrap=True)
    for w in decision.warnings:
        console.print(f"[yellow]warning:[/] {_lit(w)}", highlight=False, soft_wrap=True)
    hidden = len(decision.violations) - len(shown)
    verdict = "[green]allowed[/]" if decision.allowed else "[bold red]blocked[/]"
    console.print(f"policy decision ({decision.stage}): {verdict}; {len(decision.violations)} violation(s)"
                  f"{f' ({hidden} informational not shown)' if hidden else ''}, {decision.evaluated} evaluation(s)",
                  highlight=False, soft_wrap=True)


def build_gate(result: Any, ps: PolicySet, console: Console, exit_code: int) -> tuple[int, Decision]:
    """The build-stage decision on a scan result, printed on ``console``; ``exit_code`` when it blocks."""
    from containerguard.policy import Stage, inputs

    decision = ps.evaluate(inputs.from_scan(result), Stage.BUILD)
    print_decision(console, decision)
    return (0 if decision.allowed else exit_code), decision


ServerOpt = Annotated[str | None, typer.Option("--server", help="Central server URL (env CONTAINERGUARD_SERVER)")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (env CONTAINERGUARD_TOKEN)")]


@policy_app.command("list")
def list_policies(policy: PolicyOpt = None, no_defaults: NoDefaultsOpt = False,
                  fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table,
                  server: Annotated[str | None, typer.Option(
                      "--server", help="List the policy set held by this server instead (`policy push`)")] = None,
                  token: TokenOpt = None) -> None:
    """List the policies that would be enforced, with their enforcement per stage."""
    from containerguard.policy import Stage

    if server:
        from containerguard.cli._client import Client

        with Client(server, token) as c:
            got = c.request("GET", "/policies")
        rows = [{**p, "source": p["file"] or p["origin"]} for p in got["policies"]]
    else:
        rows = [{"id": p.id, "name": p.name, "severity": p.severity, "description": p.description,
                 "enforcement": {str(k): str(v) for k, v in p.enforcement.items()},
                 "enabled": p.enabled, "source": p.source} for p in load(policy, no_defaults).policies]
    if fmt is Fmt.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from containerguard.cli._output import print_table
    from containerguard.report.terminal import Column

    print_table(f"{len(rows)} policies",
                ["id", Column("name", 2), "severity", "build", "deploy", "runtime", Column("source", 1)],
                [[r["id"], r["name"], r["severity"],
                  *(r["enforcement"].get(str(Stage(s)), "") for s in ("build", "deploy", "runtime")), r["source"]]
                 for r in rows])


@policy_app.command("push")
def push(
    directory: Annotated[Path, typer.Argument(help="The policy directory (or file) to hold in the server.")],
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    """Replace the policy set the server holds with DIRECTORY's policy files (an admin token). They are validated
    here and again by the server; enforcement points started with --policy-from-server pick the new set up."""
    from containerguard.cli._client import Client
    from containerguard.errors import PolicyError
    from containerguard.policy.loader import policy_files

    ps = load([directory])  # the first error with FILE:LINE, before anything is sent
    root = directory if directory.is_dir() else directory.parent
    files = []
    for f in policy_files([directory]):
        try:
            files.append({"name": f.relative_to(root).as_posix(), "text": f.read_text(encoding="utf-8")})
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{f}: cannot read: {exc}") from None
    with Client(server, token) as c:
        out = c.request("PUT", "/policies", json={"files": files})
    typer.echo(f"pushed {out['files']} file(s), {out['policies']} policies in force "
               f"({len(ps.policies)} with this directory locally); revision {out['revision'][:12]}"
               f"{'' if out['changed'] else ' (unchanged)'}")


@policy_app.command("validate")
def validate(paths: Annotated[list[Path], typer.Argument(help="Policy files or directories.")]) -> None:
    """Load policies (schema and CEL compilation); print the first error with FILE:LINE (exit 2) or a count."""
    ps = load(paths, no_defaults=True)
    for w in ps.load_warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"{len(ps.policies)} policies OK")


@policy_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a policy file."""
    from containerguard.policy.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


def _input_documents(data: Any, stage: str) -> list[tuple[str, dict[str, Any]]]:
    from containerguard.errors import PolicyError
    from containerguard.policy import inputs

    if data.get("kind") == "AdmissionReview":
        obj = (data.get("request") or {}).get("object")
        if not isinstance(obj, dict):
            raise PolicyError("the AdmissionReview has no request.object")
        data = obj
    if "apiVersion" in data and "kind" in data:
        return list(inputs.from_k8s_object(data))  # a patch without containers: nothing to evaluate
    if inputs.is_docker_create(data):
        return [("docker create", inputs.from_docker_create(data))]
    return [("input", inputs.complete(data, stage))]


@policy_app.command("eval")
def evaluate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Input files or directories (as --input).")] = None,
    input_files: Annotated[list[Path] | None, typer.Option("--input", "-i", help="An input document (JSON/YAML, "
                                                           "docs/policies.md), a Kubernetes manifest, an AdmissionReview "
                                                           "or a Docker create body; a directory: its *.yaml/*.yml/*.json "
                                                           "(repeatable).")] = None,
    stage: Annotated[str, typer.Option("--stage", "-s", help="build, deploy or runtime (default: the document's "
                                                         "stage; deploy for Kubernetes and Docker inputs).")] = "",
    policy: PolicyOpt = None, no_defaults: NoDefaultsOpt = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Evaluate only this policy id (repeatable).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table,
) -> None:
    """Show the decision the policies take on an input, with each violation explained. Exit 1 when blocked.
    A YAML file with several documents (a Kubernetes manifest) is evaluated document by document."""
    from containerguard.errors import UsageError
    from containerguard.policy import Decision, Stage
    from containerguard.policy.inputs import is_docker_create
    from containerguard.policy.testing import load_inputs

    files: list[Path] = []
    given = [*(input_files or []), *(paths or [])]
    if not given:
        raise UsageError("give an input: --input FILE (or FILE arguments)")
    for p in given:
        files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml", ".json") and f.is_file())
                     if p.is_dir() else [p])
    ps = load(policy, no_defaults)
    datas = [d for f in files for d in load_inputs(f)]
    decision: Decision | None = None
    for data in datas:
        is_k8s_or_docker = is_docker_create(data) or ("apiVersion" in data and "kind" in data)
        st = stage or ("deploy" if is_k8s_or_docker else str(data.get("stage") or "build"))
        if st not in ("build", "deploy", "runtime"):
            raise UsageError(f"--stage {st!r}: expected build, deploy or runtime")
        if "apiVersion" in data and "kind" in data and data.get("kind") != "AdmissionReview":
            from containerguard.policy.inputs import pod_spec

            if pod_spec(data) is None:
                continue  # a Service, ConfigMap, ...: nothing a deploy policy reads
        docs = _input_documents(data, st)
        one = ps.evaluate_many(docs, Stage(st)) if not only else _only(ps, docs, Stage(st), only)
        decision = one if decision is None else Decision(one.stage, decision.violations + one.violations,
                                                         tuple(dict.fromkeys(decision.warnings + one.warnings)),
                                                         decision.evaluated + one.evaluated)
    if decision is None:
        decision = Decision(Stage(stage or "deploy"))
    if fmt is Fmt.json:
        typer.echo(json.dumps(decision.to_dict(), indent=2))
    else:
        from rich.console import Console

        print_decision(Console(), decision, show_inform=True)
    if not decision.allowed:
        raise SystemExit(1)


def _only(ps: PolicySet, docs: list[tuple[str, dict[str, Any]]], stage: Any, only: list[str]) -> Decision:
    from containerguard.errors import UsageError
    from containerguard.policy import Decision

    unknown = [i for i in only if ps.get(i) is None]
    if unknown:
        raise UsageError(f"--only: unknown policy id(s) {', '.join(unknown)}")
    out = Decision(stage)
    for subject, doc in docs:
        out = out.merge(ps.evaluate(doc, stage, subject=subject, only=only))
    return out


@policy_app.command("test")
def test(
    paths: Annotated[list[Path], typer.Argument(help="Directories (or files) of policies and their *_test.yaml files.")],
    no_defaults: NoDefaultsOpt = False,
    fmt: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.table,
) -> None:
    """Run policy unit tests (input documents with expected outcomes). Exit 1 when a test fails."""
    from containerguard.errors import UsageError
    from containerguard.policy.testing import run_tests

    ps = load(paths, no_defaults)
    results = run_tests(ps, paths)
    if not results:
        raise UsageError(f"no policy tests (*_test.yaml) under {', '.join(map(str, paths))}")
    failed = [r for r in results if not r.ok]
    if fmt is Fmt.json:
        typer.echo(json.dumps({"passed": len(results) - len(failed), "failed": len(failed),
                               "tests": [{"file": r.file, "line": r.line, "name": r.name, "ok": r.ok,
                                          "problems": list(r.problems)} for r in results]}, indent=2))
    else:
        from rich.console import Console
        console = Console()
        for r in results:
            mark = "[green]PASS[/]" if r.ok else "[bold red]FAIL[/]"
            console.print(f"{mark} {_lit(r.file)}:{r.line} {_lit(r.name)}", highlight=False, soft_wrap=True)
            for p in r.problems:
                console.print(f"     {_lit(p)}", highlight=False, soft_wrap=True)
        console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", highlight=False, soft_wrap=True)
    if failed:
        raise SystemExit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
