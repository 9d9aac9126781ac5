"""`containerguard scan TARGET`: parse the options, call :func:`containerguard.scanner.scan.scan_target`
(inventory -> vulnerabilities, secrets, misconfigurations -> filters), print the report, pick the exit code.

TARGET is any `sbom` target (docker:, docker-archive:, oci:, oci-archive:, registry:, dir:, bare IMAGE)
or ``sbom:FILE`` (CycloneDX / SPDX JSON, or a native JSON written by `sbom`/`scan --format json`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from containerguard import __version__
from containerguard.cli._options import severities as _severities
from containerguard.cli._options import skipped_gate_line
from containerguard.cli._output import check_output, emit, layer_progress
from containerguard.errors import UsageError
from containerguard.model import Severity
from containerguard.report.terminal import clean

_MAX_WARNINGS = 10


def _gate(res: Any, fail_on: Severity | None, exit_code: int | None, skip_unreadable: bool) -> int:
    """The gate's exit code: --fail-on / --exit-code over the findings; inputs not read fail it too."""
    from containerguard import filters

    if fail_on is not None:
        code = filters.gate(res.findings, fail_on, 1 if exit_code is None else exit_code)
    elif exit_code:
        code = filters.gate(res.findings, None, exit_code)
    else:
        return 0
    if res.skipped and not skip_unreadable:
        print(skipped_gate_line(res.skipped), file=sys.stderr)
        code = code or (1 if exit_code is None else exit_code)
    return code


def _policy_set(policy: list[Path] | None, from_server: bool, server: str | None, token: str | None) -> Any:
    """The policies to apply, loaded (a malformed one refused) or fetched before scanning: a CI job that cannot
    have the organisation's policies fails early."""
    if from_server:
        from containerguard.cli._client import Client
        from containerguard.cli._upload import server_policy_set

        with Client(server, token) as pc:
            return server_policy_set(pc, policy)
    if policy:
        from containerguard.cli.policy import load as load_policies

        return load_policies(policy)
    return None


def scan(
    target: Annotated[str, typer.Argument(help="Image or SBOM: docker:IMG, docker-archive:TAR, oci:DIR, dir:PATH, sbom:FILE, ...")],
    scanners: Annotated[str, typer.Option(
        "--scanners", help="Comma-separated scanners: vuln (packages), secret (files, image Env and history), "
        "misconfig (image config and files; Dockerfiles and Kubernetes YAML in dir: targets). "
        "Default: all three.")] = "vuln,secret,misconfig",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, sarif, cyclonedx, html (or a plug-in).")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only these severities, e.g. HIGH,CRITICAL.")] = None,
    ignore_unfixed: Annotated[bool, typer.Option("--ignore-unfixed", help="Drop findings without a fixed version.")] = False,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit non-zero when a finding reaches this severity.")] = None,
    exit_code: Annotated[int | None, typer.Option("--exit-code", help="Exit code for --fail-on (default 1); alone: exit N on any finding.")] = None,
    ignorefile: Annotated[Path | None, typer.Option("--ignorefile", help="Ignore file (default ./.containerguard-ignore.yaml when present).")] = None,
    vex: Annotated[list[Path] | None, typer.Option("--vex", help="OpenVEX document(s): not_affected/fixed statements suppress.")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Vulnerability database file.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never touch the network for the database (scan never downloads it).")] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Plain HTTP for registry: targets.")] = False,
    platform: Annotated[str | None, typer.Option(
        "--platform", help="OS/ARCH or OS/ARCH/VARIANT (default linux/amd64 in multi-arch indexes); an image that does not "
        "match it is an error.")] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name (default: ~/.docker/config.json).")] = None,
    password: Annotated[str | None, typer.Option(help="Registry password or token.", envvar="CONTAINERGUARD_PASSWORD")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Layer cache directory (default: $CONTAINERGUARD_CACHE_DIR "
                                                        "or the user cache dir).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the layer cache.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds (exit 2).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no warnings on stderr.")] = False,
    skip_dirs: Annotated[list[str] | None, typer.Option(
        "--skip-dirs", help="Directories to leave unread: glob patterns relative to the image root or the scanned "
        "directory (usr/lib/node_modules, **/testdata); repeatable or comma-separated.")] = None,
    skip_files: Annotated[list[str] | None, typer.Option(
        "--skip-files", help="Files to leave unread: glob patterns like --skip-dirs (app/*.pem, **/*.key).")] = None,
    skip_unreadable: Annotated[bool, typer.Option(
        "--skip-unreadable", help="Let --fail-on/--exit-code pass when some inputs could not be read (too large, "
        "YAML bomb, unparseable); without it they fail the gate.")] = False,
    policy: Annotated[list[Path] | None, typer.Option(
        "--policy", help="Policy file or directory (repeatable; with the default set): exit 1 (or --exit-code) "
        "when a build-stage policy says fail-build; violations are explained on stderr.")] = None,
    policy_from_server: Annotated[bool, typer.Option(
        "--policy-from-server", help="Apply the policies the server holds (`policy push`; with --server/--token), "
        "plus any --policy DIR, as --policy does.")] = False,
    server: Annotated[str | None, typer.Option("--server", help="Central server URL: apply its exceptions and upload "
                                               "the result (env CONTAINERGUARD_SERVER).")] = None,
    token: Annotated[str | None, typer.Option("--token", help="API token with the ci role (env CONTAINERGUARD_TOKEN).")] = None,
) -> None:
    """Scan an image, directory or SBOM: vulnerable and malicious packages, secrets, misconfigurations."""
    from containerguard import filters, report
    from containerguard.scanner.scan import parse_scanners, scan_target
    from containerguard.scanner.skip import SkipPaths

    del offline  # the scan path never downloads; kept so CI scripts can say so explicitly
    console = Console(stderr=True)
    chosen = parse_scanners(scanners)
    skip = SkipPaths.parse(skip_dirs, skip_files)
    sev = _severities(severity)
    gate_sev = _severities(fail_on)
    if gate_sev is not None and len(gate_sev) != 1:
        raise UsageError("--fail-on takes one severity")
    reporter = report.get_reporter(fmt)
    check_output(output, target)
    policy_set = _policy_set(policy, policy_from_server, server, token)
    if ignorefile is not None and not ignorefile.is_file():
        raise UsageError(f"ignore file {ignorefile} does not exist")
    ignore_path = ignorefile or (Path(filters.DEFAULT_IGNORE_FILE) if Path(filters.DEFAULT_IGNORE_FILE).is_file() else None)
    bar, hook = layer_progress(console, disable=quiet or not console.is_terminal)
    if not quiet and not console.is_terminal:  # CI logs: plain, periodic lines instead of a bar
        from containerguard.cli._output import plain_layer_hook

        hook = plain_layer_hook(f"scan {target}")
    from containerguard.cli._output import check_platform, deadline
    from containerguard.scanner import LayerCache

    cache = None if no_cache else (LayerCache(cache_dir) if cache_dir is not None else ...)
    with bar, deadline(timeout, f"scan {target}"):
        res = scan_target(target, scanners=chosen, db=db, severities=sev, ignore_unfixed=ignore_unfixed,
                          ignore_file=ignore_path, vex=list(vex) if vex else None, insecure=insecure,
                          platform=platform or "linux/amd64", progress=hook, cache=cache, username=username,
                          password=password, skip=skip)
    check_platform(platform, res.inventory.image)
    client = None
    if server or token:
        from containerguard.cli._client import Client
        from containerguard.cli._upload import apply_server_exceptions

        client = Client(server, token)
        res = apply_server_exceptions(client, res)
    expired = tuple(f"{r.id} ({r.source})" for r in res.expired_ignores)
    if not quiet:
        for w in res.warnings[:_MAX_WARNINGS]:
            print(clean(f"warning: {w}"), file=sys.stderr)
        if len(res.warnings) > _MAX_WARNINGS:
            print(f"warning: ... and {len(res.warnings) - _MAX_WARNINGS} more warnings "
                  "(inventory warnings: see `sbom --format json`)", file=sys.stderr)
        for e in expired:
            print(clean(f"warning: ignore entry expired and no longer suppresses: {e}"), file=sys.stderr)
    options: Any = report.RenderOptions(suppressed=res.suppressed, expired_ignores=expired, list_packages=False,
                                         scanners=res.scanners)
    inv = res.inventory
    text = reporter(inv, list(res.findings), target=inv.target, tool_version=__version__, options=options)
    emit(text, output)
    policy_code, decision = 0, None
    if policy_set is not None:
        from containerguard.cli.policy import build_gate

        policy_code, decision = build_gate(res, policy_set, console, exit_code if exit_code else 1)
    if client is not None:
        from containerguard.cli._upload import upload

        doc = text if fmt == "json" else report.get_reporter("json")(
            inv, list(res.findings), target=inv.target, tool_version=__version__, options=options)
        with client:
            out = upload(client, doc)
            if decision is not None:
                from containerguard.cli._upload import upload_policy_decision

                upload_policy_decision(client, decision, image_name=inv.target, image_digest=str(out.get("digest", "")))
        if not quiet:
            print(f"uploaded to {client.base}: image {out['digest']} ({'new' if out['created'] else 'known'}, "
                  f"{out['findings']} findings)", file=sys.stderr)
    code = _gate(res, gate_sev[0] if gate_sev else None, exit_code, skip_unreadable)
    code = code or policy_code
    if code:
        raise SystemExit(code)  # cli.main returns it (click returns typer.Exit codes unseen with standalone_mode=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("scan")(scan)
