"""Following symbolic links inside a root, whatever holds the files: a process's root through /proc, an image's
merged layers from their index. One walk: ``..`` never leaves the root, an absolute target starts again from
it, and a loop ends the walk."""

from __future__ import annotations

from collections.abc import Callable

MAX_HOPS = 40  # as the kernel's MAXSYMLINKS


class Missing(Exception):
    """Raised by a link reader for a component that is not there (or cannot be read)."""


def follow(path: str, link_of: Callable[[str], str | None]) -> list[str] | None:
    """The components of ``path`` (taken from the root) with every link followed. ``link_of(rel)`` gives the
    target of the link at ``rel`` (components joined by ``/``, no leading slash), None when it is not a link, or
    raises :class:`Missing`; then, and for a loop, None."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    out: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if out:
                out.pop()
            continue
        try:
            target = link_of("/".join((*out, part)))
        except Missing:
            return None
        if target is None:
            out.append(part)
            continue
        hops += 1
        if hops > MAX_HOPS:
            return None
        if target.startswith("/"):
            out = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return out
