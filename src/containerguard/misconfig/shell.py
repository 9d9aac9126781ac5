"""A small POSIX-shell reader for RUN instructions: enough to find the simple commands and pipes.

It is not a shell: it splits a script into simple commands (name + words with quotes removed),
looking inside ``$(...)``, backticks, subshells and ``{ ...; }`` groups, drops redirections, leading
variable assignments and reserved words, and records whether a pipe ``|`` occurs. That is what the
Dockerfile checks need (hadolint does the same on ShellCheck's AST).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_RESERVED_PREFIX = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "exec_"}
_RESERVED_SKIP = {"for", "case", "select", "function"}
_END_WORDS = {"fi", "done", "esac", "}"}
_WRAPPERS = {"command", "builtin", "busybox"}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...]

    @property
    def flags(self) -> tuple[str, ...]:
        """Flags hadolint-style: ``--long=x`` -> ``long``; ``-abc`` -> ``a``, ``b``, ``c``."""
        out: list[str] = []
        for a in self.args:
            if a in ("-", "--"):
                continue
            if a.startswith("--"):
                out.append(a[2:].split("=", 1)[0])
            elif a.startswith("-"):
                out.extend(a[1:])
        return tuple(out)

    def has_flag(self, *names: str) -> bool:
        fl = self.flags
        return any(n in fl for n in names)

    def has_arg(self, *values: str) -> bool:
        return any(v in self.args for v in values)

    def args_no_flags(self, drop_flag_values: tuple[str, ...] = ()) -> list[str]:
        """Non-flag arguments; the value after a flag in ``drop_flag_values`` is dropped too."""
        out: list[str] = []
        skip = False
        for a in self.args:
            if skip:
                skip = False
                if not a.startswith("-"):
                    continue
            if a.startswith("-") and a not in ("-", "--"):
                names = [a[2:]] if a.startswith("--") else list(a[1:])
                if "=" not in a and any(n in drop_flag_values for n in names):
                    skip = True
                continue
            out.append(a)
        return out


@dataclass(slots=True)
class Script:
    commands: list[Command] = field(default_factory=list)
    has_pipe: bool = False
    #: pipelines as lists of command indexes into ``commands``
    pipelines: list[list[int]] = field(default_factory=list)


#: characters that are the word itself: no quoting, expansion, escape or end of word
_PLAIN_RUN = re.compile(r"[^ \t\n;&|()<>\\'\"$`]+")


class _Reader:
    def __init__(self, text: str, script: Script, depth: int = 0) -> None:
        self.case_depth = 0
        self.in_pattern = False
        self.s = text
        self.i = 0
        self.n = len(text)
        self.script = script
        self.depth = depth

    # ------------------------------------------------------------------ words
    def _word(self) -> str:
        """Read one word at self.i (not an operator); return it with quotes removed."""
        s, out = self.s, []
        while self.i < self.n:
            m = _PLAIN_RUN.match(s, self.i)  # a run of ordinary characters at once (most of a word)
            if m is not None:
                out.append(m.group())
                self.i = m.end()
                continue
            c = s[self.i]
            if c in " \t\n;&|()<>":
                break
            if c == "\\":
                if self.i + 1 < self.n and s[self.i + 1] != "\n":
                    out.append(s[self.i + 1])
                self.i += 2
            elif c == "'":
                j = s.find("'", self.i + 1)
                j = self.n if j < 0 else j
                out.append(s[self.i + 1 : j])
                self.i = j + 1
            elif c == '"':
                out.append(self._dquote())
            elif c == "$" and self.i + 1 < self.n and s[self.i + 1] == "(":
                out.append(self._subst())
            elif c == "`":
                out.append(self._backtick())
            elif c == "$" and self.i + 1 < self.n and s[self.i + 1] == "{":
                j = s.find("}", self.i)
                j = self.n if j < 0 else j
                out.append(s[self.i : j + 1])
                self.i = j + 1
            else:
                out.append(c)
                self.i += 1
        return "".join(out)

    def _dquote(self) -> str:
        s, out = self.s, []
        self.i += 1
        while self.i < self.n and s[self.i] != '"':
            c = s[self.i]
            if c == "\\" and self.i + 1 < self.n and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    out.append(s[self.i + 1])
                self.i += 2
            elif c == "$" and self.i + 1 < self.n and s[self.i + 1] == "(":
                out.append(self._subst())
            elif c == "`":
                out.append(self._backtick())
            else:
                out.append(c)
                self.i += 1
        self.i += 1
        return "".join(out)

    def _subst(self) -> str:
        """``$(...)`` (or ``$((...))``): parse the inside as a script; return the raw text."""
        start = self.i
        self.i += 2
        depth, s = 1, self.s
        body_start = self.i
        quote = ""
        while self.i < self.n and depth:
            c = s[self.i]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"':
                    self.i += 1
            elif c in "'\"":
                quote = c
            elif c == "\\":
                self.i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            self.i += 1
        body = s[body_start : self.i - 1]
        if not body.startswith("("):  # $(( arithmetic )) has no commands
            self._sub_script(body)
        return s[start : self.i]

    def _backtick(self) -> str:
        """`` `...` `` (an unclosed one runs to the end): parse the inside as a script; return the raw text."""
        j = self.s.find("`", self.i + 1)
        j = self.n if j < 0 else j
        self._sub_script(self.s[self.i + 1 : j])
        start, self.i = self.i, j + 1
        return self.s[start : j + 1]

    def _sub_script(self, text: str) -> None:
        if self.depth < 20:
            _Reader(text, self.script, self.depth + 1).run()

    # ------------------------------------------------------------------ structure
    def _skip_heredoc_body(self, delim: str, strip_tabs: bool) -> None:
        nl = self.s.find("\n", self.i)
        if nl < 0:
            self.i = self.n
            return
        pos = nl + 1
        while pos < self.n:
            end = self.s.find("\n", pos)
            end = self.n if end < 0 else end
            line = self.s[pos:end]
            if (line.lstrip("\t") if strip_tabs else line) == delim:
                self.s = self.s[: nl + 1] + self.s[end + 1 :]
                self.n = len(self.s)
                return
            pos = end + 1
        self.s = self.s[: nl + 1]
        self.n = len(self.s)

    def _case_pattern(self) -> None:
        """Skip a ``case`` pattern list (``a|b)``) or consume ``esac``."""
        s = self.s
        while self.i < self.n and s[self.i] in " \t\n;":
            self.i += 1
        if s.startswith("esac", self.i) and (self.i + 4 >= self.n or s[self.i + 4] in " \t\n;&|)"):
            self.i += 4
            self.case_depth -= 1
            self.in_pattern = False
            return
        if self.i < self.n and s[self.i] == "(":
            self.i += 1
        while self.i < self.n and s[self.i] != ")":
            if s[self.i] in "'\"\\":
                self._word()
            else:
                self.i += 1
        self.i += 1
        self.in_pattern = False

    def run(self) -> None:
        words: list[str] = []
        pipeline: list[int] = []
        s = self.s
        self.case_depth = 0
        self.in_pattern = False
        while True:
            if self.in_pattern:
                self._case_pattern()
                continue
            if words and words[0] == "case" and len(words) >= 3 and words[-1] == "in":
                words = []
                self.case_depth += 1
                self.in_pattern = True
                continue
            if self.i >= self.n:
                self._emit(words, pipeline)
                self._end_pipeline(pipeline)
                return
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "#" and (self.i == 0 or s[self.i - 1] in " \t\n;&|()"):
                j = s.find("\n", self.i)
                self.i = self.n if j < 0 else j
            elif c == "\\" and self.i + 1 < self.n and s[self.i + 1] == "\n":
                self.i += 2
            elif c in "\n;&|()":
                self._operator(c, words, pipeline)
                words = []
            elif c in "<>" or (c.isdigit() and self._is_fd_redirect()):
                self._redirect()
                s = self.s  # a here-document's body is cut out of the text
            else:
                words.append(self._word())

    def _operator(self, c: str, words: list[str], pipeline: list[int]) -> None:
        """A control operator at ``s[i]``: ends the command (and the pipeline unless it is a pipe)."""
        s = self.s
        two = s[self.i : self.i + 2]
        if two in ("&&", "||", ";;", ";&"):
            self.i += 2
            if two[0] == ";" and self.i < self.n and s[self.i] == "&":
                self.i += 1
            self._emit(words, pipeline)
            self._end_pipeline(pipeline)
            if two[0] == ";" and self.case_depth > 0:
                self.in_pattern = True
        elif c == "|":
            self.i += 2 if two == "|&" else 1
            self._emit(words, pipeline)
            self.script.has_pipe = True
        elif c == "&" and two in ("&>",):
            self.i += 2
            self._redirect_target()
        else:
            self.i += 1
            self._emit(words, pipeline)
            self._end_pipeline(pipeline)

    def _redirect(self) -> None:
        """A redirection at ``s[i]`` (with its file descriptor number): its target, or a here-document."""
        s = self.s
        while self.i < self.n and s[self.i].isdigit():
            self.i += 1
        if s.startswith("<<<", self.i):
            self.i += 3
            self._redirect_target()
        elif s.startswith("<<", self.i):
            self.i += 2
            strip = False
            if self.i < self.n and s[self.i] == "-":
                strip, self.i = True, self.i + 1
            while self.i < self.n and s[self.i] in " \t":
                self.i += 1
            delim = self._word()
            self._skip_heredoc_body(delim, strip)
        else:
            self.i += 1
            if self.i < self.n and s[self.i] in "<>&|":
                self.i += 1
            self._redirect_target()

    def _is_fd_redirect(self) -> bool:
        j = self.i
        if j > 0 and self.s[j - 1] not in " \t\n;&|()":
            return False
        while j < self.n and self.s[j].isdigit():
            j += 1
        return j < self.n and self.s[j] in "<>"

    def _redirect_target(self) -> None:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1
        if self.i < self.n and self.s[self.i] not in "\n;&|()":
            self._word()

    def _emit(self, words: list[str], pipeline: list[int]) -> None:
        ws = [w for w in words]
        words.clear()
        while ws:
            w = ws[0]
            if w in _RESERVED_SKIP:
                return
            if w in _RESERVED_PREFIX or w in _END_WORDS:
                ws.pop(0)
                continue
            eq = w.find("=")
            if eq > 0 and w[:eq].replace("_", "a").isalnum() and not w[0].isdigit():
                ws.pop(0)
                continue
            break
        if not ws:
            return
        name = ws[0]
        if name in _WRAPPERS and len(ws) > 1 and not ws[1].startswith("-"):
            name = ws[1]
        pipeline.append(len(self.script.commands))
        self.script.commands.append(Command(name, tuple(ws[1:])))

    def _end_pipeline(self, pipeline: list[int]) -> None:
        if pipeline:
            self.script.pipelines.append(list(pipeline))
            pipeline.clear()


def parse(text: str) -> Script:
    """Split a shell script into its simple commands."""
    script = Script()
    _Reader(text, script).run()
    return script
