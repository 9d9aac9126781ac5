"""`containerguard cache info|clean`: the layer cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

cache_app = typer.Typer(help="The layer cache (per-layer analysis results).", no_args_is_help=True)

CacheDir = Annotated[Path | None, typer.Option(help="Cache directory (default: $CONTAINERGUARD_CACHE_DIR or the user cache dir).")]


@cache_app.command("info")
def info(cache_dir: CacheDir = None,
         as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Where the cache is, how many layers it holds and how big it is."""
    from containerguard.scanner.cache import LayerCache

    data = LayerCache(cache_dir).info()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"path:    {data['path']}")
    typer.echo(f"layers:  {data['entries']} ({data['blobs']} configs)")
    typer.echo(f"size:    {data['bytes'] / 1e6:.1f} MB of {data['max_bytes'] / 1e6:.0f} MB")


@cache_app.command("clean")
def clean(cache_dir: CacheDir = None) -> None:
    """Remove every cached layer result."""
    from containerguard.scanner.cache import LayerCache

    res = LayerCache(cache_dir).clean()
    typer.echo(f"removed {res['entries']} entries ({res['bytes'] / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(cache_app, name="cache")
