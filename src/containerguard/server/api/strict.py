"""Strict JSON for the API's request bodies, and one-line validation errors.

FastAPI parses a JSON body with :func:`json.loads`, which takes what RFC 8259 leaves open or forbids: a key
given twice (the last silently wins, so ``{"role": "viewer", "role": "admin"}`` means admin), ``NaN`` and
``Infinity``, numbers that overflow to ``inf``, lone UTF-16 surrogates (``"\\ud800"``), which no database
can store, and NUL characters, which PostgreSQL's text and jsonb refuse. Each of them used to end in a 500 or
in data the next read could not return. :class:`StrictRoute` parses request bodies so that each is refused
up front with a 422 naming the problem, before any handler runs.

Telemetry ingest is different: an agent's alert output or a container name comes from the monitored host, so an
attacker there can put a NUL or an undecodable file name into it. Refusing the batch would drop every good
alert in it (the agent sets a refused batch aside), so on the routes marked :func:`tolerant_text` a NUL or a
lone surrogate in a string becomes U+FFFD and the batch is stored; the other rules still apply.

The validation handler answers ``{"detail": "one line", "errors": [{"loc", "msg", "type"}]}``: never the
offending input, which may be a password or a token sent in the wrong field, or a value (``inf``, a
surrogate) that cannot even be written back as JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

MAX_DEPTH = 64  # no request body of this API nests deeper; deeper is refused before it is walked
_F = TypeVar("_F", bound=Callable[..., Any])


def clip(limit: int) -> BeforeValidator:
    """For telemetry fields: text or lists past their limit are cut, not refused. A process on a monitored host
    picks its own command line and file names, a deployer their pod spec; refusing one over-long item
    refused its whole batch (the reporter sets a refused batch aside), so one long enough value hid every
    alert or decision sent with it."""

    def cut(v: Any) -> Any:
        if isinstance(v, str) and len(v) > limit:
            return v[:limit - 1] + "\u2026"
        if isinstance(v, list) and len(v) > limit:
            return v[:limit]
        return v

    return BeforeValidator(cut)


#: the largest count a telemetry counter is stored as (the 32-bit integer columns; PostgreSQL refuses past it)
COUNTER_MAX = 2**31 - 1


def saturate(limit: int = COUNTER_MAX) -> BeforeValidator:
    """For telemetry counters (a baseline's deviations, an agent's dropped alerts, an enforcer's decision counts):
    a count past ``limit`` is stored as ``limit``, not refused. PostgreSQL refused the whole batch ("integer out
    of range") while SQLite stored it, and the alerts or decisions sent with the count were set aside with it."""

    def cut(v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool) and v > limit:
            return limit
        return v

    return BeforeValidator(cut)


def tolerant_text(fn: _F) -> _F:
    """Mark a telemetry route: NULs and lone surrogates in its strings are replaced, not refused."""
    fn.cg_tolerant_text = True  # type: ignore[attr-defined]
    return fn


def _fail(msg: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(msg, "", 0)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # the common case costs one C-level dict build; the name is looked for only here
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _fail(f"key {k[:60]!r} given twice")
            seen.add(k)
    return out


def _constant(name: str) -> Any:
    raise _fail(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _fail(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > 40:  # far past any count, id or size this API takes; int() of a huge string is quadratic
        raise _fail(f"integer of {len(text)} digits is out of range")
    return int(text)


def _bad_text(s: str) -> str | None:
    if "\x00" in s:
        return "a NUL character"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone UTF-16 surrogate"
    return None


def _fix_text(s: str) -> str:
    """NUL and lone surrogates -> U+FFFD, everything else kept."""
    out = s.replace("\x00", "\ufffd")
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in out)
    return out


#: the only ways a JSON text can put a NUL or a lone surrogate in a string: the escapes \u0000 and \uD800-\uDFFF
#: (raw control characters are invalid JSON, and UTF-8 cannot encode a surrogate). A body without them has
#: clean strings, and its walk only measures the nesting
_RISKY = re.compile(rb"\\u(?:0000|d[89a-f])", re.IGNORECASE)


def _walk(doc: Any, tolerant: bool, texts: bool = True) -> Any:
    """Check (or, tolerant, repair) every string and key (``texts``); refuse nesting past MAX_DEPTH. Iterative."""
    if not texts:
        return _depth_only(doc)

    def text(s: str, where: str) -> str:
        problem = _bad_text(s)
        if problem is None:
            return s
        if tolerant:
            return _fix_text(s)
        raise _fail(f"{where} holds {problem}")

    stack: list[tuple[Any, int]] = []

    def value(v: Any, where: str, depth: int) -> Any:
        if isinstance(v, str):
            return text(v, where)
        if isinstance(v, dict | list):
            stack.append((v, depth + 1))
        return v

    doc = value(doc, "the body", 0)
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, list):
            for i, v in enumerate(node):
                node[i] = value(v, f"item {i}", depth)
            continue
        for k in list(node):
            key = text(k, f"key {k[:40]!r}")
            v = value(node.pop(k) if key != k else node[k], f"the value of {key[:40]!r}", depth)
            node[key] = v
    return doc


def _depth_only(doc: Any) -> Any:
    stack: list[tuple[Any, int]] = [(doc, 1)]  # as _walk counts: the body's own object or list is level 1
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(f"nested deeper than {MAX_DEPTH} levels")
        for v in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
            if isinstance(v, dict | list):
                stack.append((v, depth + 1))
    return doc


def strict_loads(body: bytes | str, *, tolerant: bool = False) -> Any:
    """``json.loads`` that refuses duplicate keys, NaN/Infinity, out-of-range numbers, NULs and lone
    surrogates (tolerant: replaces the last two), and nesting deeper than :data:`MAX_DEPTH`."""
    try:
        doc = json.loads(body, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float,
                         parse_int=_int)
    except RecursionError:
        raise _fail(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise _fail("the body is not UTF-8") from None
    # text already decoded may hold a surrogate itself, not only as an escape: always checked in full
    return _walk(doc, tolerant, texts=isinstance(body, str) or _RISKY.search(body) is not None)


class StrictRequest(Request):
    tolerant = False

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body(), tolerant=self.tolerant)
        return self._json


class _TolerantRequest(StrictRequest):
    tolerant = True


class StrictRoute(APIRoute):
    """The API's route class: bodies parsed by :func:`strict_loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        cls = _TolerantRequest if getattr(self.endpoint, "cg_tolerant_text", False) else StrictRequest

        async def route(request: Request) -> Response:
            return await handler(cls(request.scope, request.receive))

        return route


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list | tuple) else [str(loc)]
    return ".".join(parts)[:120]


def _one(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        why = (err.get("ctx") or {}).get("error") or "JSON decode error"
        return f"invalid JSON body: {why}"
    loc = err.get("loc") or ()
    if tuple(loc) == ("body",) and err.get("type") in ("model_attributes_type", "dict_type", "missing"):
        return "the body must be a JSON object, sent as Content-Type: application/json"
    where = _loc(loc)
    if isinstance(loc, list | tuple) and loc and loc[0] == "query":
        where = f"query parameter {_loc(loc[1:]) or '?'}"
    elif isinstance(loc, list | tuple) and loc and loc[0] == "path":
        where = f"path parameter {_loc(loc[1:]) or '?'}"
    msg = " ".join(str(err.get("msg", "invalid")).split())[:200]
    return f"{where}: {msg}" if where else msg


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """422 with a one-line ``detail`` (the first errors, joined) and ``errors`` without their inputs."""
    errors = list(exc.errors())
    lines = [_one(e) for e in errors[:3]]
    detail = "; ".join(lines) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else "")
    slim = [{"loc": [str(p)[:120] for p in (e.get("loc") or ())], "msg": _one(e), "type": str(e.get("type", ""))}
            for e in errors[:50]]
    return JSONResponse({"detail": detail or "invalid request", "errors": slim}, status_code=422)


class RefuseNul:
    """Pure ASGI: a NUL in the URL (``%00`` in the path or the query) is a 400 before any route runs.

    No identifier, filter or search term of the API or the console holds one, and PostgreSQL refuses it as a
    query parameter (a 500 from every search box otherwise)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (b"%00" in scope.get("query_string", b"")
                                        or b"\x00" in scope.get("query_string", b"")
                                        or "\x00" in scope.get("path", "")):
            resp = JSONResponse({"detail": "a NUL character (%00) in the URL"}, status_code=400)
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)
