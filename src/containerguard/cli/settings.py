"""Option defaults from a config file and the environment, for every command.

* ``containerguard.yaml`` in the working directory (or the file ``$CONTAINERGUARD_CONFIG`` names): a
  mapping whose keys are option names (``severity: HIGH,CRITICAL``, ``fail-on: HIGH``) applying to every
  command that has the option, and command sections (``scan:``, ``sbom:``, ``db: {update: {...}}``) for
  one command. A key no command knows is an error naming the file and the key.
* environment variables for every option: ``CONTAINERGUARD_<COMMAND>_<OPTION>`` for one command
  (``CONTAINERGUARD_SCAN_SEVERITY``, ``CONTAINERGUARD_DB_UPDATE_MIRROR``) and ``CONTAINERGUARD_<OPTION>``
  for every command that has the option (``CONTAINERGUARD_FAIL_ON``); dashes become underscores.

Precedence: the command line, then the command's variable, then the general variable, then the config
file, then the built-in default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from containerguard.errors import UsageError

CONFIG_FILE = "containerguard.yaml"
ENV_PREFIX = "CONTAINERGUARD"
#: CONTAINERGUARD_* variables that are not option values here: read by the library itself (cache, database,
#: registry timeout, server secrets) or by options that name them (password, server, token)
NOT_OPTIONS = frozenset({
    "CONTAINERGUARD_CONFIG", "CONTAINERGUARD_DEBUG", "CONTAINERGUARD_PROGRESS_SECONDS", "CONTAINERGUARD_PASSWORD",
    "CONTAINERGUARD_SERVER", "CONTAINERGUARD_TOKEN", "CONTAINERGUARD_CACHE_DIR", "CONTAINERGUARD_CACHE_MAX_BYTES",
    "CONTAINERGUARD_DB", "CONTAINERGUARD_REGISTRY_TIMEOUT", "CONTAINERGUARD_SECRET_KEY",
    "CONTAINERGUARD_BOOTSTRAP_TOKEN", "CONTAINERGUARD_MAX_LAYER_BYTES", "CONTAINERGUARD_LAYER_SECONDS",
    "CONTAINERGUARD_MAX_LAYER_ENTRIES"})


def wanted() -> bool:
    """True when a config file or an option variable is there (only then are all commands loaded)."""
    return config_path() is not None or any(
        k.startswith(ENV_PREFIX + "_") and k not in NOT_OPTIONS for k in os.environ)


def config_path() -> Path | None:
    named = os.environ.get("CONTAINERGUARD_CONFIG")
    if named:
        p = Path(named)
        if not p.is_file():
            raise UsageError(f"$CONTAINERGUARD_CONFIG: {p} does not exist")
        return p
    p = Path(CONFIG_FILE)
    return p if p.is_file() else None


def _params(cmd: Any) -> dict[str, Any]:
    """Option spelling (``fail-on``, ``fail_on``, ``format`` for ``--format``) -> the click option."""
    out: dict[str, Any] = {}
    for p in cmd.params:
        if getattr(p, "param_type_name", "") != "option" or not p.name:
            continue
        out[p.name] = p
        for o in [*p.opts, *p.secondary_opts]:
            if o.startswith("--") and not o.startswith("--no-"):
                out[o[2:]] = p
                out[o[2:].replace("-", "_")] = p
    return out


def _commands(group: Any, ctx: Any) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None:
            continue
        if hasattr(cmd, "list_commands"):
            out.update({(name, *k): v for k, v in _commands(cmd, ctx).items()})
        else:
            out[(name,)] = cmd
    return out


def default_map(root: Any, path: Path | None) -> dict[str, Any]:
    """Click's ``default_map`` from the config file at ``path`` and the environment (module docstring)."""
    ctx_cls = type(root).context_class
    with ctx_cls(root) as ctx:
        commands = _commands(root, ctx)
    out: dict[str, Any] = {}

    def put(cmd_path: tuple[str, ...], opt: Any, value: Any) -> None:
        node = out
        for part in cmd_path:
            node = node.setdefault(part, {})
        if isinstance(value, list) and not opt.multiple:
            value = ",".join(map(str, value))
        elif opt.multiple and not isinstance(value, list):
            value = [value]
        node[opt.name] = value

    if path is not None:
        _from_file(path, commands, put)
    for cmd_path, cmd in commands.items():  # the environment overrides the file
        for opt in {id(o): o for o in _params(cmd).values()}.values():
            if opt.envvar:
                continue  # the option names its own variable
            long = next((o[2:] for o in opt.opts if o.startswith("--")), opt.name)
            suffix = long.replace("-", "_").upper()
            for var in (f"{ENV_PREFIX}_{suffix}", f"{ENV_PREFIX}_{'_'.join(cmd_path).upper()}_{suffix}"):
                if var in os.environ and var not in NOT_OPTIONS:
                    put(cmd_path, opt, os.environ[var])
    return out


def _from_file(path: Path, commands: dict[tuple[str, ...], Any], put: Any) -> None:
    from containerguard import yamlsafe

    data = yamlsafe.load(path.read_text(encoding="utf-8"), str(path), error=UsageError, aliases=False)
    if data is None:
        return
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of option names and command sections")

    def apply(prefix: tuple[str, ...], section: dict[Any, Any], where: str) -> None:
        for key, value in section.items():
            key = str(key)
            sub = (*prefix, key)
            if isinstance(value, dict) and any(k[: len(sub)] == sub for k in commands):
                apply(sub, value, f"{where}{key}.")
                continue
            targets = [(k, _params(c)[key]) for k, c in commands.items()
                       if k[: len(prefix)] == prefix and key in _params(c)]
            if not targets:
                raise UsageError(f"{path}: {where}{key}: no {' '.join(prefix) or 'command'} has this option")
            for cmd_path, opt in targets:
                put(cmd_path, opt, value)

    apply((), data, "")
