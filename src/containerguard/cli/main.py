"""The ``containerguard`` command. Each command group lives in its own module with a ``register(app)``.

This module owns the single ``except ContainerGuardError``: one line on stderr, exit code 2.
"""

from __future__ import annotations

import sys

import typer

from containerguard import __version__
from containerguard.cli import agent, bench, cache, config, db, rules, sbom, scan
from containerguard.errors import ContainerGuardError

app = typer.Typer(
    name="containerguard",
    help="Container security: inventory, vulnerabilities, misconfiguration, secrets, runtime detection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Container security: inventory, vulnerabilities, misconfiguration, secrets, runtime detection."""


for module in (sbom, scan, db, cache, config, bench, rules, agent):
    module.register(app)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    try:
        rc = app(args=argv, standalone_mode=False)
    except ContainerGuardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:  # click's own usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # click's usage errors (typer may vendor click): show them, exit 2
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            return int(exc.exit_code)
        raise
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
