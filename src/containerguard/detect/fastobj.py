"""Cheaper construction of the frozen, slotted domain dataclasses on hot paths (rescans build hundreds of
Packages and Findings per inventory). A frozen dataclass's ``__init__`` goes through
``object.__setattr__`` once per field; writing the slots through their member descriptors gives the same
object at a fraction of the cost. Tests compare the result with the normal constructor."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def positional_builder(cls: type[T]) -> Callable[[tuple[Any, ...]], T]:
    """``build(values)`` -> an instance of ``cls`` from all its field values in declaration order."""
    if not dataclasses.is_dataclass(cls) or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    setters = tuple(cls.__dict__[f.name].__set__ for f in dataclasses.fields(cls))
    new = object.__new__

    def build(values: tuple[Any, ...]) -> T:
        obj: T = new(cls)
        for setter, v in zip(setters, values, strict=True):
            setter(obj, v)
        return obj

    return build


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around an allocation-heavy section that creates no cycles.

    Building hundreds of thousands of small objects triggers collections that re-scan every long-lived
    object (the detector's caches); reference counting still frees everything here. Re-entrant: only the
    outermost section re-enables the collector, and only if it was enabled."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
