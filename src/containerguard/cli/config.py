"""`containerguard config PATH...`: misconfiguration checks of Dockerfiles and Kubernetes manifests
(files or directories; the kind is detected per file) and, with ``--image``, of an image's configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from containerguard import __version__
from containerguard.cli._output import emit
from containerguard.errors import UsageError
from containerguard.model import Finding, Severity


def _fail_on(fail_on: str | None) -> Severity | None:
    if not fail_on:
        return None
    sev = Severity.parse(fail_on)
    if sev is Severity.UNKNOWN and fail_on.strip().upper() != "UNKNOWN":
        raise UsageError(f"unknown severity {fail_on!r} (expected one of {', '.join(Severity.__members__)})")
    return sev


def config(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Dockerfiles, Kubernetes YAML files or directories; - reads one from stdin (helm template ... | config -).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif (or any report format).")] = "table",
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 when a finding reaches this severity.")] = None,
    image: Annotated[str | None, typer.Option("--image", help="Also check this image's configuration and files.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no warnings on stderr.")] = False,
    severity: Annotated[str | None, typer.Option(help="Only these severities, e.g. HIGH,CRITICAL.")] = None,
    ignorefile: Annotated[Path | None, typer.Option(
        "--ignorefile", help="Ignore file (default ./.containerguard-ignore.yaml when present).")] = None,
    skip_unreadable: Annotated[bool, typer.Option(
        "--skip-unreadable", help="Let --fail-on pass when some files could not be read (too large, YAML bomb, "
        "unparseable); without it they fail the gate.")] = False,
    skip_dirs: Annotated[list[str] | None, typer.Option(
        "--skip-dirs", help="Directories to leave out: glob patterns relative to each directory given (and to the "
        "--image root), e.g. charts/*/tests, **/testdata; repeatable or comma-separated.")] = None,
    skip_files: Annotated[list[str] | None, typer.Option(
        "--skip-files", help="Files to leave out: glob patterns like --skip-dirs (**/values-*.yaml).")] = None,
) -> None:
    """Check Dockerfiles and Kubernetes manifests (and optionally an image) for misconfigurations."""
    from containerguard.cli._options import severities
    from containerguard.report.plugins import get_reporter
    from containerguard.scanner import SkipPaths, check_config

    if not paths and not image:
        raise UsageError("give at least one PATH (or - for stdin) or --image TARGET")
    reporter = get_reporter(fmt)
    gate_sev = _fail_on(fail_on)  # a bad --fail-on, --severity or ignore file is refused before any file is read
    sev = severities(severity)
    skip = SkipPaths.parse(skip_dirs, skip_files)
    ignores = None
    if ignorefile is not None and not ignorefile.is_file():
        raise UsageError(f"ignore file {ignorefile} does not exist")
    from containerguard.filters import DEFAULT_IGNORE_FILE

    ignore_path = ignorefile or (Path(DEFAULT_IGNORE_FILE) if Path(DEFAULT_IGNORE_FILE).is_file() else None)
    if ignore_path is not None:  # the ignore-file reader (pydantic) only when there is one
        from containerguard.filters import load_ignore_file

        ignores = load_ignore_file(ignore_path)
    stdin_text = None
    if paths and any(str(p) == "-" for p in paths):
        stdin_text = sys.stdin.read()
        paths = [p for p in paths if str(p) != "-"]
    from containerguard.cli._output import work_progress

    with work_progress("config", "files", quiet=quiet) as step:
        res = check_config(paths or [], text=stdin_text, skip=skip,
                           progress=lambda p, done, total: step(done, total, str(p)))
    findings = list(res.findings)
    if image:  # the image pipeline's one entry point, with the misconfiguration scanner alone
        from containerguard.cli._output import layer_progress, plain_layer_hook
        from containerguard.report.terminal import console
        from containerguard.scanner import scan_target

        err = console(stderr=True)
        bar, hook = layer_progress(err, disable=quiet or not err.is_terminal)  # as `scan` and `sbom` show it
        if not quiet and not err.is_terminal:
            hook = plain_layer_hook(f"config --image {image}")
        with bar:
            findings += scan_target(image, scanners={"misconfig"}, skip=skip, progress=hook).findings
    suppressed: tuple[Finding, ...] = ()
    if sev is not None or ignores is not None:
        from containerguard.filters import filter_findings

        filtered = filter_findings(findings, severities=sev, ignore_file=ignores)
        findings, suppressed = list(filtered.kept), filtered.suppressed
    if not quiet:
        from containerguard.report.terminal import clean

        for w in res.warnings:
            print(clean(f"warning: {w}"), file=sys.stderr)
        if (paths or stdin_text is not None) and res.dockerfiles + res.manifests == 0:
            print("warning: no Dockerfile or Kubernetes manifest found", file=sys.stderr)
        print(f"checked {res.dockerfiles} Dockerfiles, {res.manifests} YAML files ({res.objects} Kubernetes objects)"
              f"{', 1 image' if image else ''}; {len(findings)} findings"
              f"{f', {res.skipped} skipped' if res.skipped else ''}", file=sys.stderr)
    target = image or " ".join([str(p) for p in paths or []] + (["<stdin>"] if stdin_text is not None else []))
    from containerguard.report import RenderOptions

    text = reporter(None, findings, target=target, tool_version=__version__,
                    options=RenderOptions(suppressed=suppressed))
    emit(text, output)
    if gate_sev is not None:
        from containerguard.cli._options import skipped_gate_line
        from containerguard.filters import gate

        code = gate(findings, gate_sev, 1)
        if res.skipped and not skip_unreadable:
            print(skipped_gate_line(res.skipped), file=sys.stderr)
            code = 1
        if code:
            raise SystemExit(code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("config")(config)
