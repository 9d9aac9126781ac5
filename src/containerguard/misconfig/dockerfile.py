"""Dockerfile checks (CG-DF-*), each reported with its line number.

The correctness rules mirror hadolint's (the rule each check corresponds to is in the catalog's
``references.hadolint``); where we knowingly differ, docs/checks.md says so. Security checks that
hadolint lacks (curl | sh, secrets in ENV/ARG, ADD from a URL, missing USER/HEALTHCHECK) are ours.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from containerguard.errors import MisconfigError
from containerguard.misconfig import shell
from containerguard.misconfig.catalog import make_finding, meta
from containerguard.misconfig.dockerfile_parser import Dockerfile, Instruction, Stage, parse_dockerfile
from containerguard.misconfig.secretnames import mask, secret_reason
from containerguard.model import Finding

_ARCHIVE_EXT = (".tar", ".z", ".bz2", ".gz", ".lz", ".lzma", ".tz", ".tb2", ".tbz", ".tbz2", ".tgz",
                ".tlz", ".tpz", ".txz", ".xz")
_URL = re.compile(r"^(https?|ftp)://", re.I)
_SHELLS = {"sh", "bash", "zsh", "ash", "dash", "ksh", "mksh", "fish"}
_PIPE_TO_SHELL_RE = re.compile(
    r"(?:\b(?:ba|z|da|k|a)?sh\b\s+(?:-\w+\s+)*[\"']?\$\(\s*(?:curl|wget)\b)|(?:<\(\s*(?:curl|wget)\b)")
_PIP_DROP = ("abi", "b", "build", "e", "editable", "extra-index-url", "f", "find-links", "i", "index-url",
             "implementation", "no-binary", "only-binary", "platform", "prefix", "progress-bar", "proxy",
             "python-version", "root", "src", "t", "target", "trusted-host", "upgrade-strategy")
_PIP_VERSION = ("==", ">=", "<=", ">", "<", "!=", "~=", "===")
_VCS = ("git+file", "git+https", "git+ssh", "git+http", "git+git", "git", "hg+", "svn", "bzr+")
_TRUTHY = {"1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES"}
_WIN_ABS = re.compile(r"^[A-Za-z]:[\\/]")


def _unquote(s: str) -> str:
    return s.strip().strip("\"'")


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` -> (name, tag, digest)."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        name, tag = ref[:colon], ref[colon + 1:]
    return name, tag, digest


def _expand(text: str, values: dict[str, str]) -> str:
    """Substitute ``$NAME`` / ``${NAME}`` / ``${NAME:-default}`` / ``${NAME:+alternative}`` from ARG and ENV
    values, as BuildKit does (unknown names without a default stay as written)."""

    def sub(m: re.Match[str]) -> str:
        name, op, word = m.group(1) or m.group(4), m.group(2), m.group(3)
        if op is not None and op.endswith("+"):  # the word when set (and, with ':', not empty), else nothing
            return word if name in values and (op == "+" or values[name]) else ""
        if name in values and not (op == ":-" and not values[name]):
            return values[name]
        return word if word is not None else m.group(0)

    return _VAR.sub(sub, text)


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def _arg_defaults(args: list[Instruction]) -> dict[str, str]:
    """The global ARG defaults, each expanded with the ones before it, as BuildKit does
    (``ARG BASE=$REGISTRY/$OWNER/img`` then ``FROM $BASE``)."""
    values: dict[str, str] = {}
    for ins in args:
        for name, value in _kv_pairs(ins):
            if value is not None:
                values[name] = _expand(value, values)
    return values


def _kv_pairs(ins: Instruction) -> list[tuple[str, str | None]]:
    """ENV / ARG / LABEL key-value pairs (``k=v k2="v 2"`` or legacy ``ENV k v``)."""
    text = ins.rest
    if ins.cmd == "ENV" and "=" not in (text.split(None, 1) or [""])[0]:  # a bare ENV has no pairs
        parts = text.split(None, 1)
        return [(parts[0], parts[1] if len(parts) > 1 else "")] if parts else []
    out: list[tuple[str, str | None]] = []
    for m in re.finditer(r"([^\s=]+)(?:=((?:\"(?:\\.|[^\"])*\"|'[^']*'|\\.|[^\s\\])*))?", text):
        out.append((m.group(1), _unquote(m.group(2)) if m.group(2) is not None else None))
    return out


def _script_text(ins: Instruction) -> str:
    if ins.heredocs and ins.rest.lstrip().startswith("<<"):
        return "\n".join(h.body for h in ins.heredocs)
    if ins.json_args is not None:  # SHELL's exec form is a shell prefix, not a command: kept as written
        return _exec_form_script(ins.json_args) if ins.cmd == "RUN" else " ".join(ins.json_args)
    return ins.rest


_SHELL_C_FLAG = re.compile(r"-[A-Za-z]*c[A-Za-z]*")


def _exec_form_script(args: tuple[str, ...]) -> str:
    """The shell text an exec-form instruction amounts to: the script of ``["sh", "-c", SCRIPT]`` (any shell,
    ``-c`` alone or among other short flags such as ``-euxc``), else the one program with its arguments
    quoted (Docker runs it without a shell, so a ``|`` or ``sudo`` inside an argument is text)."""
    if args and args[0].rsplit("/", 1)[-1] in _SHELLS:
        for i, a in enumerate(args[1:], 1):
            if _SHELL_C_FLAG.fullmatch(a):
                return args[i + 1] if i + 1 < len(args) else ""
            if not a.startswith(("-", "+")) and args[i - 1] not in ("-o", "+o"):
                break  # a script file or its arguments: no -c script follows
    return shlex.join(args)


@dataclass(slots=True)
class _Ctx:
    df: Dockerfile
    target: str
    findings: list[Finding] = field(default_factory=list)
    ignores: dict[int, frozenset[str]] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)  # ENV/ARG names defined so far (DL3044)
    arg_defaults: dict[str, str] = field(default_factory=dict)  # global ARG defaults (a stage ARG may redeclare)

    def add(self, check_id: str, line: int, message: str = "", match: str = "") -> None:
        silenced = self.ignores.get(line, frozenset()) | self.df.global_ignore
        if silenced and (check_id in silenced or meta(check_id).references.hadolint in silenced):
            return
        self.findings.append(make_finding(check_id, target=self.target, path=self.target, line=line,
                                          message=message, match=match))


# ----------------------------------------------------------------------------- RUN checks (per script)


def _apt_install(c: shell.Command) -> bool:
    return c.name == "apt-get" and c.has_arg("install")


def _pip_install(c: shell.Command) -> bool:
    if c.name.startswith("pip") and "install" in c.args:
        return True
    a = list(c.args)
    return c.name.startswith("python") and any(a[i:i + 3] == ["-m", "pip", "install"] for i in range(len(a)))


def _args_no_flags(c: shell.Command, drop: tuple[str, ...] = ()) -> list[str]:
    """hadolint's getArgsNoFlags(dropFlagArg drop cmd): the argument after a dropped flag goes too."""
    dropped: set[int] = set()
    out = []
    for i, a in enumerate(c.args):
        is_flag = a.startswith("-") and a not in ("-", "--")
        if is_flag:
            names = [a[2:].split("=", 1)[0]] if a.startswith("--") else list(a[1:])
            if any(n in drop for n in names):
                dropped.add(i + 1)
        elif i not in dropped:
            out.append(a)
    return out


def _strip_install(args: list[str]) -> list[str]:
    i = 0
    while i < len(args) and args[i] != "install":
        i += 1
    while i < len(args) and args[i] == "install":
        i += 1
    return args[i:]


def _pip_unpinned(c: shell.Command) -> bool:
    if not _pip_install(c) or c.has_flag("constraint", "c") or c.has_arg("--requirement", "-r", "."):
        return False

    def fixed(p: str) -> bool:
        vcs = p.startswith(_VCS)
        return (any(s in p for s in _PIP_VERSION) or (vcs and "@" in p) or p.endswith((".whl", ".tar.gz"))
                or (not vcs and "/" in p))

    return not all(fixed(p) for p in _strip_install(_args_no_flags(c, _PIP_DROP)))


def _npm_unpinned(c: shell.Command) -> bool:
    if not (c.name == "npm" and c.has_arg("install")):
        return False
    args = _args_no_flags(c)
    if args[:1] != ["install"]:
        return False

    def fixed(p: str) -> bool:
        if p.startswith(("git://", "git+ssh://", "git+http://", "git+https://")):
            return "#" in p
        if p.endswith((".tar", ".tar.gz", ".tgz")) or p.startswith(("/", "./", "../", "~/")):
            return True
        return "@" in (p.lstrip("@").split("/", 1)[-1] if p.startswith("@") else p)

    return not all(fixed(p) for p in _strip_install(args))


def _check_script(ctx: _Ctx, ins: Instruction, stage: Stage | None, st: _StageState) -> None:
    """Every check of one RUN script, in rule order (one helper per family of package tools)."""
    text = _script_text(ins)
    sc = shell.parse(text)
    cmds = sc.commands
    line = ins.line
    names = {c.name for c in cmds}
    _script_apt(ctx, ins, st, text, sc, cmds, line, names)
    _script_language_managers(ctx, ins, st, text, sc, cmds, line, names)
    _script_rpm(ctx, ins, st, text, sc, cmds, line, names)
    _script_other_tools(ctx, ins, st, text, sc, cmds, line, names)
    _script_fetch(ctx, ins, st, text, sc, cmds, line, names)


def _script_apt(ctx: _Ctx, ins: Instruction, st: _StageState, text: str, sc: shell.Script, cmds: list[shell.Command],
                line: int, names: set[str]) -> None:
    """apt-get/apt: working directory, sudo, apt, pinning, recommends, -y, apt lists (CG-DF-013/008/025/014/009/032)."""
    if "cd" in names:
        ctx.add("CG-DF-013", line)
    if "sudo" in names:
        ctx.add("CG-DF-008", line)
    if "apt" in names:
        ctx.add("CG-DF-025", line)
    if any(_apt_install(c) and not all(
            "=" in p or "/" in p or p.endswith(".deb")
            for p in _args_no_flags(c, ("t", "target-release")) if p != "install") for c in cmds):
        ctx.add("CG-DF-014", line)
    if any(_apt_install(c) and not (c.has_flag("no-install-recommends") or c.has_arg("APT::Install-Recommends=false"))
           for c in cmds):
        ctx.add("CG-DF-009", line)
    if any(_apt_install(c) and not (c.has_flag("y", "yes", "assume-yes") or c.flags.count("q") >= 2
                                    or c.has_arg("-q=2", "--quiet=2")) for c in cmds):
        ctx.add("CG-DF-032", line)
    # DL3009: apt-get update without 'rm -rf /var/lib/apt/lists/*' (any rm with either argument)
    if any(c.name == "apt-get" and c.has_arg("update") for c in cmds) and not any(
            c.name == "rm" and c.has_arg("-rf", "/var/lib/apt/lists/*") for c in cmds):
        mounts = [v for k, v in ins.flags if k == "mount" and "type=cache" in v]
        targets = [m.group(1) for v in mounts for m in [re.search(r"(?:target|dst|destination)=([^,]+)", v)] if m]
        cached = any(t.startswith("/var/lib/apt/lists") for t in targets) or (
            any(t.startswith("/var/lib/apt") for t in targets) and any(t.startswith("/var/cache/apt") for t in targets))
        if not cached:
            st.apt_lists_lines.append(line)


def _script_language_managers(ctx: _Ctx, ins: Instruction, st: _StageState, text: str, sc: shell.Script, cmds: list[shell.Command],
                              line: int, names: set[str]) -> None:
    """pip, npm and apk: pinning and caches (CG-DF-015/016/017/018/026), wget progress, tools (027/038)."""
    if any(_pip_unpinned(c) for c in cmds):
        ctx.add("CG-DF-015", line)
    if any(_npm_unpinned(c) for c in cmds):
        ctx.add("CG-DF-016", line)
    if any(c.name == "apk" and c.has_arg("add") and not all(
            "=" in p or "~" in p or p.endswith(".apk")
            for p in _args_no_flags(c, ("t", "virtual", "repository", "X")) if p != "add") for c in cmds):
        ctx.add("CG-DF-017", line)
    if any(c.name == "apk" and c.has_arg("add") and not c.has_flag("no-cache") for c in cmds):
        ctx.add("CG-DF-018", line)
    # DL3042
    pip_cache_mount = any(k == "mount" and "type=cache" in v and ".cache/pip" in v for k, v in ins.flags)
    if not st.pip_no_cache and not pip_cache_mount and not _env_truthy_in_text(text) and any(
            _pip_install(c) and "--no-cache-dir" not in c.args and not _pip_wrapper(c) for c in cmds):
        ctx.add("CG-DF-026", line)
    if any(c.name == "wget" and not (c.has_flag("progress", "q", "quiet", "o", "output-file", "a", "append-output",
                                                "no-verbose") or c.has_arg("-nv")) for c in cmds):
        ctx.add("CG-DF-027", line)
    if names & {"free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim"}:
        ctx.add("CG-DF-038", line)


def _script_rpm(ctx: _Ctx, ins: Instruction, st: _StageState, text: str, sc: shell.Script, cmds: list[shell.Command],
                line: int, names: set[str]) -> None:
    """dnf, microdnf and yum: -y, pinning, cache clean-up (CG-DF-039/042/040/041/044/045)."""
    if any(_dnf(c, ("install", "groupinstall", "localinstall")) and not c.has_flag("y", "assumeyes") for c in cmds):
        ctx.add("CG-DF-039", line)
    if any(c.name == "yum" and c.has_arg("install", "groupinstall", "localinstall", "reinstall")
           and not c.has_flag("y", "assumeyes") for c in cmds):
        ctx.add("CG-DF-042", line)
    if not all(_dnf_pinned(c) for c in cmds):
        ctx.add("CG-DF-040", line)
    for tool in ("dnf", "microdnf"):
        first = next((i for i, c in enumerate(cmds) if c.name == tool and c.has_arg("install", "upgrade")), None)
        if first is not None and not any(
                (c.name == tool and c.has_arg("clean", "all")) or (c.name == "rm" and c.has_arg("-rf", "/var/cache/yum/*"))
                for c in cmds[first + 1:]):
            ctx.add("CG-DF-041", line)
            break
    yum_installs = [c for c in cmds if c.name == "yum" and c.has_arg("install")]
    if yum_installs and not any(c.name == "yum" and c.has_arg("clean", "all") for c in cmds):
        ctx.add("CG-DF-044", line)
    if not all(_yum_pinned(c) for c in yum_installs):
        ctx.add("CG-DF-045", line)


def _script_other_tools(ctx: _Ctx, ins: Instruction, st: _StageState, text: str, sc: shell.Script, cmds: list[shell.Command],
                        line: int, names: set[str]) -> None:
    """gems, useradd, go install, tar of COPYed archives, yarn, zypper, ln /bin/sh (CG-DF-046/047/058/057/061/052)."""
    if not all(_gems_pinned(c) for c in cmds):
        ctx.add("CG-DF-046", line)
    if any(_useradd_long_uid(c) for c in cmds):
        ctx.add("CG-DF-047", line)
    if any(c.name == "go" and c.args[:1] and c.args[0] in ("install", "get") and not all(
            "@" in p and not p.endswith("@latest") for p in _args_no_flags(c)[1:]) for c in cmds):
        ctx.add("CG-DF-058", line)
    for c in cmds:
        if c.name == "tar" and (c.has_flag("x", "extract") or (c.args and "x" in c.args[0] and not c.args[0].startswith("-"))):
            names_used = {a.rsplit("/", 1)[-1] for a in c.args}
            for copied, copy_line in list(st.archives.items()):
                if copied in names_used:
                    ctx.add("CG-DF-057", copy_line)
                    del st.archives[copied]
    if any(c.name == "yarn" and c.has_arg("install") for c in cmds) and not any(
            c.name == "yarn" and c.has_arg("cache") and c.has_arg("clean") for c in cmds):
        ctx.add("CG-DF-061", line)
    zyp = [c for c in cmds if c.name == "zypper"]
    if zyp:
        _check_zypper(ctx, line, zyp)
    if any(c.name == "ln" and c.has_arg("/bin/sh") for c in cmds):
        ctx.add("CG-DF-052", line)


def _script_fetch(ctx: _Ctx, ins: Instruction, st: _StageState, text: str, sc: shell.Script, cmds: list[shell.Command],
                  line: int, names: set[str]) -> None:
    """curl and wget: both used (CG-DF-033), pipes without pipefail (031), remote content piped to a shell (004)."""
    tools = {n for n in names if n in ("curl", "wget")}
    if tools:
        st.fetch_tools |= tools
        if len(st.fetch_tools) >= 2:
            ctx.add("CG-DF-033", line)
    if sc.has_pipe and not st.pipefail:
        ctx.add("CG-DF-031", line)
    # curl | sh
    piped = False
    for pl in sc.pipelines:
        seen_fetch = False
        for idx in pl:
            c = cmds[idx]
            n = c.name.rsplit("/", 1)[-1]
            if n in ("curl", "wget"):
                seen_fetch = True
            elif seen_fetch and (n in _SHELLS or (n == "sudo" and any(a.rsplit("/", 1)[-1] in _SHELLS for a in c.args))):
                piped = True
    if piped or _PIPE_TO_SHELL_RE.search(text):
        ctx.add("CG-DF-004", line, "remote content is executed by a shell")

def _dnf(c: shell.Command, args: tuple[str, ...]) -> bool:
    return c.name in ("dnf", "microdnf") and c.has_arg(*args)


_VERSION_CHARS = re.compile(r"^[0-9A-Za-z.~^_:+]*$")


def _dnf_pinned(c: shell.Command) -> bool:
    """DL3041: every package is name-<version> (or an .rpm); modules are name:stream."""
    if not _dnf(c, ("install",)):
        return True
    pkgs = [a for a in _args_no_flags(c) if a not in ("install", "module")]
    if c.has_arg("module"):
        return all(":" in p for p in pkgs)
    if c.has_arg("group"):
        return True

    def fixed(p: str) -> bool:
        if "$" in p:
            return True  # a version from a variable (hadolint agrees)
        parts = p.split("-")
        if len(parts) <= 1:
            return False
        if p.endswith(".rpm"):
            return True
        rest = parts[1:]
        return all(_VERSION_CHARS.match(x) for x in rest) and any(x[:1].isdigit() for x in rest)

    return all(fixed(p) for p in pkgs)


def _gems_pinned(c: shell.Command) -> bool:
    if c.name != "gem" or not c.has_arg("install", "i") or c.has_arg("-v", "--version") or any(
            a.startswith("--version=") for a in c.args):
        return True
    return all(":" in p for p in _args_no_flags(c) if p not in ("install", "i", "--"))


def _useradd_long_uid(c: shell.Command) -> bool:
    if c.name != "useradd" or c.has_flag("l", "no-log-init") or not c.has_flag("u", "uid"):
        return False
    uids = [c.args[i + 1] for i, a in enumerate(c.args[:-1])
            if a.startswith("-") and not a.startswith("--") and "u" in a[1:]]
    return any(len(u) > 5 for u in uids)


_ZYPPER_INSTALL = ("install", "in")
_ZYPPER_ASKS = ("install", "in", "remove", "rm", "source-install", "si", "patch")


def _check_zypper(ctx: _Ctx, line: int, zyp: list[shell.Command]) -> None:
    if any(c.has_arg(*_ZYPPER_ASKS) and not c.has_flag("n", "non-interactive", "y", "no-confirm") for c in zyp):
        ctx.add("CG-DF-048", line)
    if any(c.has_arg("dist-upgrade", "dup") for c in zyp):
        ctx.add("CG-DF-049", line)
    installs = [c for c in zyp if c.has_arg(*_ZYPPER_INSTALL)]
    if installs and not any(c.has_arg("clean", "cc") for c in zyp):
        ctx.add("CG-DF-050", line)
    if any(not all(any(x in p for x in "=<>") or p.endswith(".rpm")
                   for p in _args_no_flags(c) if p not in _ZYPPER_INSTALL) for c in installs):
        ctx.add("CG-DF-051", line)


def _yum_pinned(c: shell.Command) -> bool:
    pkgs = [a for a in _args_no_flags(c) if a not in ("install", "module")]
    if c.has_arg("module"):
        return all(":" in p for p in pkgs)
    return all("-" in p or p.endswith(".rpm") for p in pkgs)


def _pip_wrapper(c: shell.Command) -> bool:
    a = list(c.args)
    for w in ("pipx", "pipenv"):
        if w in c.name or (c.name.startswith("python") and any(a[i:i + 2] == ["-m", w] for i in range(len(a)))):
            return True
    return False


def _env_truthy_in_text(text: str) -> bool:
    i = text.find("PIP_NO_CACHE_DIR=")
    if i < 0:
        return False
    rest = text[i + len("PIP_NO_CACHE_DIR="):]
    return any(rest.startswith(t) for t in _TRUTHY)


# ----------------------------------------------------------------------------- per-stage state


@dataclass(slots=True)
class _StageState:
    pipefail: bool = False
    pip_no_cache: bool = False
    workdir: bool = False
    user: str | None = None
    user_line: int = 0
    user_value: str = ""  # USER as BuildKit substitutes it (ENV and ARG values at that point)
    env: dict[str, str] = field(default_factory=dict)  # ENV values (inherited by a stage built FROM this one)
    args: dict[str, str] = field(default_factory=dict)  # this stage's ARG defaults (not inherited)
    healthcheck: bool = False
    fetch_tools: set[str] = field(default_factory=set)
    apt_lists_lines: list[int] = field(default_factory=list)
    archives: dict[str, int] = field(default_factory=dict)  # archive basename COPYed -> COPY line (DL3010)
    prev_run: tuple[tuple[tuple[str, str], ...], int] | None = None  # (flags, command count) of the RUN just before


def _is_root(user: str) -> bool:
    u = user.strip()
    return u in ("root", "0") or u.startswith(("root:", "0:"))


def check_dockerfile(df: Dockerfile, target: str | None = None) -> list[Finding]:
    """Run every Dockerfile check over a parsed Dockerfile."""
    ctx = _Ctx(df, target or df.path, ignores={i.line: i.ignore for i in df.instructions if i.ignore})
    for line, msg in df.errors:
        ctx.add("CG-DF-059" if msg.endswith("before the first FROM") else "CG-DF-037", line, msg)
    for ins in df.global_args:
        _check_secrets(ctx, ins)
        ctx.defined |= {k for k, _ in _kv_pairs(ins)}
    aliases: list[str] = []  # stage names defined so far (as written, lower-cased by the parser)
    states: dict[str, _StageState] = {}
    used_as_base = {s.image.lower() for s in df.stages}
    defaults = ctx.arg_defaults = _arg_defaults(df.global_args)
    for stage in df.stages:
        image = _expand(stage.image, defaults)
        base_name, tag, digest = split_image(image)
        from_ins = stage.instructions[0]
        parent = states.get(stage.image.lower())
        st = _StageState(pipefail=False, pip_no_cache=parent.pip_no_cache if parent else False,
                         workdir=parent.workdir if parent else False,
                         user=parent.user if parent else None, user_line=parent.user_line if parent else 0,
                         user_value=parent.user_value if parent else "", env=dict(parent.env) if parent else {},
                         healthcheck=parent.healthcheck if parent else False)
        _check_from(ctx, stage, image, tag, digest, aliases)
        counts = {"CMD": 0, "ENTRYPOINT": 0, "HEALTHCHECK": 0}
        for ins in stage.instructions[1:]:
            _check_instruction(ctx, ins, stage, st, aliases, counts)
            if ins.cmd == "ONBUILD" and ins.onbuild is not None and ins.onbuild.cmd == "RUN":
                _check_script(ctx, ins.onbuild, stage, _StageState(pipefail=True, pip_no_cache=st.pip_no_cache))
        is_last = stage is df.stages[-1]
        if is_last or (stage.name is not None and stage.name in used_as_base):
            for ln in st.apt_lists_lines:
                ctx.add("CG-DF-010", ln)
        states[(stage.name or base_name).lower()] = st
        if is_last:
            _check_final_stage(ctx, stage, st, from_ins)
    ctx.findings.sort(key=lambda f: (f.line or 0, f.id))
    return ctx.findings


def _check_from(ctx: _Ctx, stage: Stage, image: str, tag: str | None, digest: str | None,
                aliases: list[str]) -> None:
    """A stage's FROM line: the base image's tag, the platform flag and the stage name (which it records)."""
    is_stage_ref = stage.image.lower() in aliases
    if image.lower() != "scratch" and not is_stage_ref:
        if digest is None and tag is None and "$" not in image:
            ctx.add("CG-DF-006", stage.line, f"FROM {stage.image}")
        elif digest is None and tag == "latest":
            ctx.add("CG-DF-007", stage.line, f"FROM {stage.image}")
    plat = stage.platform
    if plat and "BUILDPLATFORM" not in plat and "TARGETPLATFORM" not in plat:
        ctx.add("CG-DF-043", stage.line, f"--platform={plat}")
    if plat in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
        ctx.add("CG-DF-063", stage.line)
    if stage.name in ("scratch", "context"):
        ctx.add("CG-DF-062", stage.line, f"AS {stage.name}")
    if stage.name:
        if stage.name in aliases:
            ctx.add("CG-DF-023", stage.line, f"stage name {stage.name!r} is used twice")
        aliases.append(stage.name)


def _check_final_stage(ctx: _Ctx, stage: Stage, st: _StageState, from_ins: Instruction) -> None:
    """The image's own stage: a non-root USER and a HEALTHCHECK."""
    if st.user is not None and _is_root(st.user_value) and st.user_line >= from_ins.line:
        ctx.add("CG-DF-001", st.user_line, f"USER {st.user}")
    elif st.user is None and stage.image.lower() != "scratch":
        ctx.add("CG-DF-002", from_ins.line, "the final stage never sets USER")
    if not st.healthcheck:
        ctx.add("CG-DF-011", from_ins.line, "the final stage defines no HEALTHCHECK")


def _check_secrets(ctx: _Ctx, ins: Instruction) -> None:
    for name, value in _kv_pairs(ins):
        reason = secret_reason(name, value, is_arg=ins.cmd == "ARG")
        if reason:
            shown = f"{name}={mask(value)}" if value else name
            ctx.add("CG-DF-005", ins.line, f"{ins.cmd} {shown}: {reason}", match=shown)


def _check_instruction(ctx: _Ctx, ins: Instruction, stage: Stage, st: _StageState, aliases: list[str],
                       counts: dict[str, int]) -> None:
    """One instruction of a stage (after its FROM): RUN's script and the per-instruction checks."""
    if ins.cmd == "RUN":
        _check_script(ctx, ins, stage, st)
        count = len(shell.parse(_script_text(ins)).commands)
        flags = tuple(sorted(ins.flags))
        if st.prev_run is not None and st.prev_run == (flags, 1) and count == 1:
            ctx.add("CG-DF-054", ins.line)  # hadolint keeps the earlier RUN as the reference
        else:
            st.prev_run = (flags, count)
        return
    st.prev_run = None
    handler = _INSTRUCTION_CHECKS.get(ins.cmd)
    if handler is not None:
        handler(_InsCtx(ctx, ins, stage, st, aliases, counts))


@dataclass(slots=True)
class _InsCtx:
    """What a per-instruction check sees."""

    ctx: _Ctx
    ins: Instruction
    stage: Stage
    st: _StageState
    aliases: list[str]
    counts: dict[str, int]


def _on_onbuild(c: _InsCtx) -> None:
    if c.ins.onbuild is not None and c.ins.onbuild.cmd in ("FROM", "MAINTAINER", "ONBUILD"):
        c.ctx.add("CG-DF-055", c.ins.line, f"ONBUILD {c.ins.onbuild.cmd}")


def _on_label(c: _InsCtx) -> None:
    bad = [k for k, _ in _kv_pairs(c.ins) if not _label_key_ok(_unquote(k))]
    if bad:
        c.ctx.add("CG-DF-056", c.ins.line, f"LABEL {bad[0]}")


def _on_shell(c: _InsCtx) -> None:
    text = _script_text(c.ins)
    if text.startswith(("pwsh", "powershell", "cmd")):
        c.st.pipefail = True
    else:
        c.st.pipefail = any(
            cmd.name.rsplit("/", 1)[-1] in ("bash", "zsh", "ash") and cmd.has_flag("o") and "pipefail" in cmd.args
            for cmd in shell.parse(text).commands)


def _on_env(c: _InsCtx) -> None:
    ctx, ins = c.ctx, c.ins
    pairs = _kv_pairs(ins)
    here: set[str] = set()
    for k, v in pairs:
        refs = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", v or ""))
        if refs & (here - ctx.defined):
            ctx.add("CG-DF-053", ins.line, f"ENV {k} refers to {', '.join(sorted(refs & here))}")
            break
        here.add(k)
    ctx.defined |= {k for k, _ in pairs}
    for k, v in pairs:
        if v is not None:
            c.st.env[k] = _expand(v, {**c.st.args, **c.st.env})
    if any(k == "PIP_NO_CACHE_DIR" and (v or "") in _TRUTHY for k, v in pairs):
        c.st.pip_no_cache = True
    _check_secrets(ctx, ins)


def _on_arg(c: _InsCtx) -> None:
    _check_secrets(c.ctx, c.ins)
    pairs = _kv_pairs(c.ins)
    c.ctx.defined |= {k for k, _ in pairs}
    for k, v in pairs:  # a stage ARG's default, or the global one it redeclares
        if v is not None:
            c.st.args[k] = _expand(v, {**c.st.args, **c.st.env})
        elif k in c.ctx.arg_defaults:
            c.st.args[k] = c.ctx.arg_defaults[k]


def _on_workdir(c: _InsCtx) -> None:
    c.st.workdir = True
    p = _unquote(c.ins.rest)
    if not (p.startswith(("/", "$")) or _WIN_ABS.match(p)):
        c.ctx.add("CG-DF-012", c.ins.line, f"WORKDIR {c.ins.rest}")


def _on_user(c: _InsCtx) -> None:
    st = c.st
    st.user, st.user_line = c.ins.rest.strip(), c.ins.line
    st.user_value = _expand(st.user, {**st.args, **st.env})  # ENV wins over an ARG of the same name
    uid = st.user.split(":", 1)[0]
    refs = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", uid))
    if not uid.isdigit() and not (refs and refs <= c.ctx.defined):  # a build arg may well be numeric
        c.ctx.add("CG-DF-060", c.ins.line, f"USER {st.user}")


def _on_maintainer(c: _InsCtx) -> None:
    c.ctx.add("CG-DF-028", c.ins.line)


def _on_counted(c: _InsCtx) -> None:
    """CMD, ENTRYPOINT and HEALTHCHECK: once per stage; CMD and ENTRYPOINT in JSON form."""
    cmd, ins = c.ins.cmd, c.ins
    c.counts[cmd] += 1
    if cmd == "HEALTHCHECK":
        c.st.healthcheck = True
        if c.counts[cmd] > 1:
            c.ctx.add("CG-DF-035", ins.line)
        return
    if c.counts[cmd] > 1:
        c.ctx.add("CG-DF-029" if cmd == "CMD" else "CG-DF-030", ins.line)
    if ins.json_args is None:
        c.ctx.add("CG-DF-024", ins.line, f"{cmd} {ins.rest[:60]}")


def _on_expose(c: _InsCtx) -> None:
    for p in c.ins.rest.split():
        num = p.split("/", 1)[0]
        for part in num.split("-"):
            if part.isdigit() and int(part) > 65535:
                c.ctx.add("CG-DF-036", c.ins.line, f"EXPOSE {p}")


def _on_copy_add(c: _InsCtx) -> None:
    _check_copy_add(c.ctx, c.ins, c.stage, c.st, c.aliases)


#: the per-instruction checks, by instruction (RUN is checked by _check_instruction itself)
_INSTRUCTION_CHECKS: dict[str, Callable[[_InsCtx], None]] = {
    "ONBUILD": _on_onbuild, "LABEL": _on_label, "SHELL": _on_shell, "ENV": _on_env, "ARG": _on_arg,
    "WORKDIR": _on_workdir, "USER": _on_user, "MAINTAINER": _on_maintainer, "CMD": _on_counted,
    "ENTRYPOINT": _on_counted, "HEALTHCHECK": _on_counted, "EXPOSE": _on_expose, "COPY": _on_copy_add,
    "ADD": _on_copy_add,
}

_LABEL_KEY = re.compile(r"[a-z](?:[a-z0-9._-]*[a-z0-9])?")


def _label_key_ok(key: str) -> bool:
    return (_LABEL_KEY.fullmatch(key) is not None and ".." not in key and "--" not in key
            and not key.startswith(("com.docker.", "io.docker.", "org.dockerproject.")))


def _check_copy_from(ctx: _Ctx, ins: Instruction, src: str, stage: Stage, aliases: list[str]) -> None:
    """``COPY --from``: an earlier stage by name or index, or an image; never this stage or an unknown one."""
    if src.isdigit():  # a stage by its index: an earlier one is fine
        if int(src) == stage.index:
            ctx.add("CG-DF-022", ins.line, f"COPY --from={src}")
        elif int(src) > stage.index:
            ctx.add("CG-DF-021", ins.line, f"COPY --from={src} (no stage {src} before this one)")
    elif stage.name is not None and src.lower() == stage.name:
        ctx.add("CG-DF-022", ins.line, f"COPY --from={src}")
    elif src.lower() not in aliases and ":" not in src:
        ctx.add("CG-DF-021", ins.line, f"COPY --from={src}")


def _check_copy_add(ctx: _Ctx, ins: Instruction, stage: Stage, st: _StageState, aliases: list[str]) -> None:
    args = list(ins.json_args) if ins.json_args is not None else ins.rest.split()
    heredoc_names = {h.name for h in ins.heredocs}
    args = [a for a in args if not (a.startswith("<<") and a.lstrip("<-").strip("\"'") in heredoc_names)]
    if not args:
        return
    sources, dest = args[:-1], args[-1]
    if ins.cmd == "ADD":
        urls = [s for s in sources if _URL.match(s)]
        if urls and ins.flag("checksum") is None:
            ctx.add("CG-DF-003", ins.line, f"ADD {urls[0]}")
        if any(not _URL.match(s) and not s.lower().endswith(_ARCHIVE_EXT) for s in sources):
            ctx.add("CG-DF-019", ins.line)
    if ins.cmd == "COPY":
        for srcp in sources:
            if srcp.lower().endswith(_ARCHIVE_EXT) and ins.flag("from") is None:
                st.archives[srcp.rsplit("/", 1)[-1]] = ins.line
        src = ins.flag("from")
        if src is not None and "/" in sources and dest == "/":
            ctx.add("CG-DF-064", ins.line, f"COPY --from={src} / /")
        if src is not None:
            _check_copy_from(ctx, ins, src, stage, aliases)
        if len(sources) > 1 and not _unquote(dest).endswith("/"):
            ctx.add("CG-DF-020", ins.line)
        d = _unquote(dest)
        if not st.workdir and not (d.startswith(("/", "$")) or d[1:].startswith((":\\", ":/"))):
            ctx.add("CG-DF-034", ins.line, f"COPY to {dest}")


# ----------------------------------------------------------------------------- entry points


def read_text(path: Path, max_bytes: int = 4 * 1024 * 1024) -> str:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise MisconfigError(f"{path}: {size} bytes is larger than the {max_bytes}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise MisconfigError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in data[:8192]:
        raise MisconfigError(f"{path}: binary file")
    return data.decode("utf-8", errors="replace")


def scan_dockerfile(path: str | Path, text: str | None = None) -> list[Finding]:
    """Parse and check one Dockerfile; raises MisconfigError for unreadable/binary/huge input."""
    p = Path(path)
    df = parse_dockerfile(read_text(p) if text is None else text, str(path))
    return check_dockerfile(df, str(path))


def hadolint_ids() -> dict[str, str]:
    """hadolint rule -> our check id, from the catalog."""
    from containerguard.misconfig.catalog import catalog

    return {m.references.hadolint: m.id for m in catalog().values() if m.references.hadolint}


def scan_many(paths: Iterable[Path]) -> list[Finding]:
    out: list[Finding] = []
    for p in paths:
        out.extend(scan_dockerfile(p))
    return out
