"""`containerguard sbom TARGET`: the image's inventory as a table, native JSON, CycloneDX or SPDX."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("table", "json", "cyclonedx", "spdx-json")


def sbom(
    target: Annotated[str, typer.Argument(help="docker:IMAGE, docker-archive:PATH, oci:DIR[:TAG], oci-archive:PATH[:TAG], "
                                               "registry:HOST/REPO[:TAG|@DIGEST], dir:PATH or a bare IMAGE.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, json, cyclonedx, spdx-json (or a plug-in format).")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE instead of stdout.")] = None,
    insecure: Annotated[bool, typer.Option(help="Plain HTTP to the registry.")] = False,
    platform: Annotated[str | None, typer.Option(
        help="OS/ARCH or OS/ARCH/VARIANT (default linux/amd64 in multi-arch indexes); an image that does not match it is "
        "an error.")] = None,
    username: Annotated[str | None, typer.Option(help="Registry user name (default: ~/.docker/config.json).")] = None,
    password: Annotated[str | None, typer.Option(help="Registry password or token.", envvar="CONTAINERGUARD_PASSWORD")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Layer cache directory (default: $CONTAINERGUARD_CACHE_DIR "
                                                        "or the user cache dir).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the layer cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    skip_dirs: Annotated[list[str] | None, typer.Option(
        "--skip-dirs", help="Directories to leave unread: glob patterns relative to the image root or the scanned "
        "directory (usr/lib/node_modules, **/testdata); repeatable or comma-separated.")] = None,
    skip_files: Annotated[list[str] | None, typer.Option(
        "--skip-files", help="Files to leave unread: glob patterns like --skip-dirs (app/*.pem, **/*.key).")] = None,
) -> None:
    """List the OS and every package of an image (or a directory), with the layer that introduced each."""
    from containerguard import __version__
    from containerguard.errors import UsageError
    from containerguard.report.plugins import BUILTIN, available, get_reporter
    from containerguard.report.terminal import clean
    from containerguard.scanner.cache import LayerCache
    from containerguard.scanner.inventory import build_inventory
    from containerguard.scanner.skip import SkipPaths

    skip = SkipPaths.parse(skip_dirs, skip_files)  # a hostile pattern is refused before anything is read

    # the SBOM built-ins, or a plug-in format (containerguard.reports); refused before any layer is read
    if format not in FORMATS:  # entry points are read only then: they cost start-up time
        plugin_formats = [n for n in available() if n not in {b.name for b in BUILTIN}]
        if format not in plugin_formats:
            raise UsageError(f"unknown format {format!r} (choose from {', '.join([*FORMATS, *plugin_formats])})")
    reporter = get_reporter(format)
    from containerguard.cli._output import check_output

    check_output(output, target)
    cache = None if no_cache else LayerCache(cache_dir)
    bar = hook = None
    if not quiet and sys.stderr.isatty():
        from rich.console import Console

        from containerguard.cli._output import layer_progress

        bar, hook = layer_progress(Console(stderr=True))
    elif not quiet:  # CI logs: plain, periodic lines instead of a bar
        from containerguard.cli._output import plain_layer_hook

        hook = plain_layer_hook(f"sbom {target}")
    if bar is not None:
        with bar:
            inv = build_inventory(target, cache=cache, progress=hook, insecure=insecure, platform=platform or "linux/amd64",
                                  username=username, password=password, skip=skip)
    else:
        inv = build_inventory(target, cache=cache, progress=hook, insecure=insecure,
                              platform=platform or "linux/amd64", username=username, password=password, skip=skip)
    from containerguard.cli._output import check_platform

    check_platform(platform, inv.image)
    text = reporter(inv, (), target=inv.target, tool_version=__version__)
    from containerguard.cli._output import emit

    emit(text, output)
    if inv.warnings and not quiet:
        print(f"{len(inv.warnings)} warning(s):", file=sys.stderr)
        for w in inv.warnings[:20]:
            print(clean(f"  warning: {w}"), file=sys.stderr)
        if len(inv.warnings) > 20:
            print(f"  ... and {len(inv.warnings) - 20} more", file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("sbom")(sbom)
