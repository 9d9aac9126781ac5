"""The ``containerguard`` command. Each command group lives in its own module with a ``register(app)``.

``COMMANDS`` is the one list of command modules. A run of one command imports only that command's module
(``containerguard sbom ...`` never imports the vulnerability database, the rules engine or Rich);
``--help``, no arguments or an unknown command register every module, so help stays complete.

This module owns the single ``except ContainerGuardError``: one line on stderr, exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from containerguard import __version__
from containerguard.errors import ContainerGuardError

#: command name -> module under containerguard.cli with a ``register(app)``, in help order
COMMANDS: dict[str, str] = {
    "sbom": "sbom", "scan": "scan", "db": "db", "cache": "cache", "config": "config", "bench": "bench",
    "rules": "rules", "agent": "agent", "baseline": "baseline", "profile": "baseline",
    "policy": "policy", "admission": "admission", "authz": "authz",
    "server": "server", "worker": "server", "token": "token", "registry": "registry", "user": "user",
    "notify": "notify",
}

app = typer.Typer(
    name="containerguard",
    help="Container security: inventory, vulnerabilities, misconfiguration, secrets, runtime detection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # help texts are shown literally: "oci:DIR[:TAG]", "[bold]" or "[/x]" are text, never Rich markup (a
    # "[/x]" made `--help` crash); every command inherits it (tests/unit/cli/test_help_literal.py)
    rich_markup_mode=None,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", help="Print the version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """Container security: inventory, vulnerabilities, misconfiguration, secrets, runtime detection."""


_registered: set[str] = set()


def register_commands(names: Sequence[str] | None = None) -> typer.Typer:
    """Register the named commands (default: all of them) on ``app`` once each; return ``app``."""
    for name in COMMANDS if names is None else names:
        if name not in _registered:
            module = importlib.import_module(f"containerguard.cli.{COMMANDS[name]}")
            getattr(module, f"register_{name}", module.register)(app)
            _registered.add(name)
    if "version" not in _registered:  # after the others, so that help lists it last
        app.command("version")(version)
        _registered.add("version")
    return app


def _wanted(argv: Sequence[str]) -> list[str] | None:
    """The one command module ``argv`` runs, or None (all) for help, no command or an unknown one."""
    for arg in argv:
        if arg.startswith("-"):
            return None  # the root takes no options but --help: show everything
        return [arg] if arg in COMMANDS else [] if arg == "version" else None
    return None


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):  # no command module needed
        print(__version__)
        return 0
    try:
        register_commands(_wanted(args))
        rc = app(args=args, standalone_mode=False, **_settings())
    except ContainerGuardError as exc:
        print(_one_line(f"error: {exc}"), file=sys.stderr)
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
        return _internal_error(exc)
    return rc if isinstance(rc, int) else 0


def _settings() -> dict[str, Any]:
    """Click's ``default_map`` from containerguard.yaml and CONTAINERGUARD_* variables (cli/settings.py);
    nothing (and no extra start-up) when neither is there."""
    from containerguard.cli import settings

    if not settings.wanted():
        return {}
    register_commands()  # every command, so that each key is checked against all options
    return {"default_map": settings.default_map(typer.main.get_command(app), settings.config_path())}


#: exit code of an unexpected internal error (a bug): never 1 (a gate failed) nor 2 (bad usage or input)
INTERNAL_ERROR = 3


def _one_line(text: str) -> str:
    from containerguard.report.terminal import clean

    return clean(" ".join(text.split()))


def _internal_error(exc: BaseException) -> int:
    """One line on stderr (the traceback only with CONTAINERGUARD_DEBUG=1) and :data:`INTERNAL_ERROR`."""
    import os

    if os.environ.get("CONTAINERGUARD_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    print(_one_line(f"internal error: {type(exc).__name__}: {str(exc)[:300]}{where} (a bug: please report it; "
                    "CONTAINERGUARD_DEBUG=1 shows the traceback)"), file=sys.stderr)
    return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
