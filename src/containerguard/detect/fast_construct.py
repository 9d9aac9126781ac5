"""Cheaper construction of the frozen, slotted domain dataclasses on hot paths (rescans build hundreds of
Packages and Findings per inventory). A frozen dataclass's ``__init__`` goes through
``object.__setattr__`` once per field; filling an instance of a plain class with the same slot layout and
then setting its ``__class__`` gives the same object at a fraction of the cost (see ``_layout_twin``).
Tests compare the result with the normal constructor."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _layout_twin(cls: type[Any]) -> type[Any] | None:
    """A plain class with exactly ``cls``'s slots, or None when ``cls`` cannot take one.

    A builder fills an instance of the twin with ordinary attribute stores (the interpreter specialises
    them to direct slot writes) and then re-labels it as ``cls`` by assigning ``__class__``, which
    Python allows between classes of identical slot layout. The object is then indistinguishable from
    one the dataclass constructor made: same type, same slot values, no ``__dict__``."""
    slots = cls.__dict__.get("__slots__")
    if cls.__bases__ != (object,) or not isinstance(slots, tuple) or "__weakref__" in slots:
        return None
    twin = type(f"_{cls.__name__}Layout", (), {"__slots__": slots})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


def _generate(cls: type[T], params: str, exprs: dict[str, str], check: str = "") -> Callable[..., T]:
    """``build(params)`` setting every field ``f`` of ``cls`` to ``exprs[f]``: through a layout twin when
    ``cls`` has one, else through the slots' member descriptors."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    twin = _layout_twin(cls)
    if twin is not None:
        body = "".join(f"        o.{n} = {exprs[n]}\n" for n in names) + "        o.__class__ = _cls\n"
        new_obj = "_new(_twin)"
    else:
        body = "".join(f"        _s_{n}(o, {exprs[n]})\n" for n in names)
        new_obj = "_new(_cls)"
    src = (f"def _make(_new, _cls, _twin, {', '.join('_s_' + n for n in names)}):\n"
           f"    def build({params}):\n{check}"
           f"        o = {new_obj}\n{body}        return o\n"
           f"    return build\n")
    ns: dict[str, Any] = {}
    exec(src, ns)  # noqa: S102 - generated from the dataclass's own field names, like dataclasses does
    slot = {n: next(k.__dict__[n] for k in cls.__mro__ if n in k.__dict__) for n in names}  # inherited ones too
    build: Callable[..., T] = ns["_make"](object.__new__, cls, twin, *(slot[n].__set__ for n in names))
    return build


def positional_builder(cls: type[T]) -> Callable[[tuple[Any, ...]], T]:
    """``build(values)`` -> an instance of ``cls`` from all its field values in declaration order.

    The builder is straight-line code generated for the class (as ``dataclasses`` generates ``__init__``),
    one slot store per field; a values tuple of the wrong length raises ValueError."""
    if not dataclasses.is_dataclass(cls) or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    n = len(dataclasses.fields(cls))
    check = (f"        if len(v) != {n}:\n"
             f"            raise ValueError(f'{cls.__name__} takes {n} values, got {{len(v)}}')\n")
    return _generate(cls, "v", {f.name: f"v[{i}]" for i, f in enumerate(dataclasses.fields(cls))}, check)


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


def compile_builder(cls: type[T], params: list[str], exprs: dict[str, str]) -> Callable[..., T]:
    """A constructor ``build(*params)`` for the slotted dataclass ``cls`` that sets every field ``f`` to the
    Python expression ``exprs[f]`` (written in terms of ``params``). Every field must be given: a field added
    to the model later makes this raise at import time instead of building half-initialised objects."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if set(exprs) != set(names):
        raise TypeError(f"{cls.__name__} builder: fields {sorted(set(names) ^ set(exprs))} not matched")
    return _generate(cls, ", ".join(params), exprs)
