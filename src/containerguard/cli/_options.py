"""Option values several commands share (severity lists, the gate's message about unread inputs). Kept
light: `config` and `scan` import it on their start-up path."""

from __future__ import annotations

from containerguard.errors import UsageError
from containerguard.model import Priority, Severity


def severities(text: str | None) -> list[Severity] | None:
    """``HIGH,CRITICAL`` as severities (None for no filter); an unknown name is a usage error."""
    if not text:
        return None
    out = []
    for part in text.split(","):
        p = part.strip().upper()
        if not p:
            continue
        if p not in Severity.__members__:
            raise UsageError(f"unknown severity {part.strip()!r} (expected {', '.join(Severity.__members__)})")
        out.append(Severity[p])
    return out


def skipped_gate_line(count: int) -> str:
    return (f"gate: {count} input(s) could not be read (see the warnings): the gate fails rather than pass over "
            "them; --skip-unreadable lets it judge what was read")


def priority(text: str | None, option: str) -> Priority | None:
    """A rule priority given to ``option`` (``warning``, ``ERROR``, Falco's aliases), None when not given; anything
    else is a usage error naming the option and the priorities."""
    if text is None:
        return None
    try:
        return Priority.parse(text)
    except KeyError:
        raise UsageError(f"{option} {text!r}: not a priority "
                         f"({', '.join(p.name.lower() for p in Priority)})") from None
