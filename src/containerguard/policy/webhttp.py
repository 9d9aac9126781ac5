"""What the admission webhook and the Docker authorization plugin share: bounded JSON bodies, one error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

#: Kubernetes caps a request object at ~3 MiB (etcd's limit); a Docker create body is far smaller
MAX_BODY = 3 * 1024 * 1024


class BadRequest(Exception):
    """A body the server refuses (too large, not JSON, wrong shape); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_json(request: Request, limit: int = MAX_BODY) -> Any:
    """The request's JSON body, refused above ``limit`` bytes (checked before and while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("invalid Content-Length")
        if int(declared) > limit:
            raise BadRequest(f"request body of {int(declared)} bytes is larger than the {limit}-byte limit", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"request body larger than the {limit}-byte limit", 413)
    return parse_json(bytes(body))


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("empty request body")
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest("request body nests JSON too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {str(exc).splitlines()[0][:200]}") from None
