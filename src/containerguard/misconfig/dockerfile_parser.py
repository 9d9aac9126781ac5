"""Dockerfile parser with line numbers, following BuildKit's rules.

Handles parser directives (``# escape=`` / ``# syntax=`` at the top), line continuations with the
current escape character (comment and blank lines inside a continuation are dropped), heredocs
(``RUN <<EOF``, ``<<-EOF``, quoted delimiters, several per instruction) for RUN/COPY/ADD, JSON
(exec) and shell forms, ``--flags`` on instructions, and multi-stage builds (``FROM ... AS name``,
``ARG`` before the first ``FROM``). Written here instead of using dockerfile-parse because that
library does not parse heredocs or report flags/JSON form per instruction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

from containerguard.errors import MisconfigError

KNOWN = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
_HEREDOC_CMDS = {"RUN", "COPY", "ADD"}
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    body: str
    strip_tabs: bool = False


@dataclass(frozen=True, slots=True)
class Instruction:
    cmd: str  # upper-case keyword
    value: str  # everything after the keyword (continuations joined), flags included
    line: int  # 1-based line of the keyword
    end_line: int
    flags: tuple[tuple[str, str], ...] = ()  # (--name, value) in order
    rest: str = ""  # value without the leading flags
    json_args: tuple[str, ...] | None = None  # exec form
    heredocs: tuple[Heredoc, ...] = ()
    onbuild: Instruction | None = None  # the wrapped instruction of ONBUILD
    #: rule codes silenced by ``# hadolint ignore=...`` / ``# containerguard ignore=...`` just above
    ignore: frozenset[str] = frozenset()

    def flag(self, name: str) -> str | None:
        for k, v in self.flags:
            if k == name:
                return v
        return None


@dataclass(slots=True)
class Stage:
    index: int
    line: int
    image: str  # as written (may contain $VARS)
    name: str | None  # lower-cased alias
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(slots=True)
class Dockerfile:
    path: str
    directives: dict[str, str]
    escape: str
    global_args: list[Instruction]
    stages: list[Stage]
    instructions: list[Instruction]  # all, in order
    errors: list[tuple[int, str]] = field(default_factory=list)
    #: codes silenced for the whole file (``# hadolint global ignore=...``)
    global_ignore: frozenset[str] = frozenset()


_PRAGMA = re.compile(r"^#\s*(hadolint|containerguard)\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9.,\s-]+)$", re.I)


def _split_flags(value: str) -> tuple[tuple[tuple[str, str], ...], str]:
    flags: list[tuple[str, str]] = []
    rest = value.lstrip()
    while rest.startswith("--"):
        m = re.match(r"--([A-Za-z0-9-]+)(?:=((?:\"[^\"]*\"|'[^']*'|\S)*))?\s*", rest)
        if not m:
            break
        flags.append((m.group(1).lower(), m.group(2) or ""))
        rest = rest[m.end():]
    return tuple(flags), rest


def _json_form(rest: str) -> tuple[str, ...] | None:
    r = rest.strip()
    if not r.startswith("["):
        return None
    try:
        val = json.loads(r)
    except ValueError:
        return None
    if isinstance(val, list) and all(isinstance(v, str) for v in val):
        return tuple(val)
    return None


def _make(cmd: str, value: str, line: int, end: int, heredocs: tuple[Heredoc, ...]) -> Instruction:
    inner = None
    if cmd == "ONBUILD":
        parts = value.strip().split(None, 1)
        if parts and parts[0].upper() in KNOWN:
            inner = _make(parts[0].upper(), parts[1] if len(parts) > 1 else "", line, end, heredocs)
    flags: tuple[tuple[str, str], ...] = ()
    rest = value.strip()
    if cmd in {"ADD", "COPY", "RUN", "FROM", "HEALTHCHECK"}:
        flags, rest = _split_flags(value)
    jargs = _json_form(rest) if cmd in {"CMD", "ENTRYPOINT", "RUN", "SHELL", "COPY", "ADD", "VOLUME", "HEALTHCHECK"} else None
    return Instruction(cmd, value.strip(), line, end, flags, rest.strip(), jargs, heredocs, inner)


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives (``# escape=``, ``# syntax=``): only at the very top, before any blank line,
    comment or instruction. Returns them and the index of the first line after them."""
    directives: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() in directives:
            break
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    return directives, i


def _logical_line(lines: list[str], i: int, escape: str) -> tuple[str, int]:
    """The instruction starting at line ``i`` joined over its continuation lines (comment and blank lines
    inside a continuation are skipped), and the index of its last line."""
    n = len(lines)
    parts: list[str] = []
    cur = lines[i].lstrip()
    while True:
        body = cur.rstrip()
        if not body.endswith(escape):
            parts.append(cur)
            break
        parts.append(body[:-1])
        i += 1
        while i < n and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
            i += 1
        if i >= n:
            break
        cur = lines[i]
    return "".join(parts), i


def _heredocs(value: str, lines: list[str], i: int, start: int,
              errors: list[tuple[int, str]]) -> tuple[list[Heredoc], int]:
    """The here-documents ``value`` opens, read from line ``i`` on; and the index of the line after them."""
    heredocs: list[Heredoc] = []
    n = len(lines)
    for m in _HEREDOC.finditer(value):
        strip, delim = m.group(1) == "-", m.group(3)
        body_lines: list[str] = []
        closed = False
        while i < n:
            ln = lines[i]
            i += 1
            if (ln.lstrip("\t") if strip else ln) == delim:
                closed = True
                break
            body_lines.append(ln.lstrip("\t") if strip else ln)
        if not closed:
            errors.append((start + 1, f"unterminated heredoc <<{delim}"))
        heredocs.append(Heredoc(delim, "\n".join(body_lines) + "\n", strip))
    return heredocs, i


def _stages(instructions: list[Instruction], errors: list[tuple[int, str]]) -> tuple[list[Instruction], list[Stage]]:
    """The ARGs before the first FROM, and the build stages (each FROM and the instructions under it)."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            words = ins.rest.split()
            image = words[0] if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), ins.line, image, name, ins.flag("platform"), [ins]))
        elif not stages:
            if ins.cmd == "ARG":
                global_args.append(ins)
            else:
                errors.append((ins.line, f"{ins.cmd} before the first FROM"))
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def split_lines(text: str) -> list[str]:
    """The lines of Dockerfile text as BuildKit reads them: a leading UTF-8 byte-order mark dropped, split at
    ``\n`` only (a trailing ``\r`` removed). ``str.splitlines`` would also split at form feeds, vertical tabs,
    NEL and the Unicode line/paragraph separators, which BuildKit keeps inside a value: a label's text would
    become an instruction and every later line number would shift."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text. Raises MisconfigError only for input that is not a text file."""
    if len(text) > MAX_BYTES:
        raise MisconfigError(f"{path}: Dockerfile larger than {MAX_BYTES} bytes")
    if "\x00" in text:
        raise MisconfigError(f"{path}: binary file, not a Dockerfile")
    lines = split_lines(text)
    directives, i = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        escape = "\\"

    instructions: list[Instruction] = []
    errors: list[tuple[int, str]] = []
    pending: set[str] = set()
    global_ignore: set[str] = set()
    n = len(lines)
    while i < n:
        raw = lines[i]
        stripped = raw.strip()
        if not stripped:
            pending.clear()
            i += 1
            continue
        if stripped.startswith("#"):
            pm = _PRAGMA.match(stripped)
            if pm:
                codes = {c.strip().upper() for c in pm.group(3).split(",") if c.strip()}
                (global_ignore if pm.group(2) else pending).update(codes)
            i += 1
            continue
        ignore = frozenset(pending)
        pending.clear()
        start = i
        logical, i = _logical_line(lines, i, escape)
        end = i
        kw, _, value = logical.strip().partition(" ")
        if "\t" in kw:
            kw, _, more = kw.partition("\t")
            value = more + " " + value
        cmd = kw.upper()
        i += 1
        heredocs: list[Heredoc] = []
        if cmd in _HEREDOC_CMDS or (cmd == "ONBUILD" and value.split()[:1] and value.split()[0].upper() in _HEREDOC_CMDS):
            heredocs, i = _heredocs(value, lines, i, start, errors)
            end = i - 1 if heredocs else end
        if cmd not in KNOWN:
            errors.append((start + 1, f"unknown instruction {kw!r}"))
            continue
        ins = _make(cmd, value, start + 1, end + 1, tuple(heredocs))
        if ignore:
            ins = dataclasses.replace(ins, ignore=ignore)
        instructions.append(ins)

    global_args, stages = _stages(instructions, errors)
    return Dockerfile(path, directives, escape, global_args, stages, instructions, errors, frozenset(global_ignore))
