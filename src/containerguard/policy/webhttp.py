"""What the admission webhook and the Docker authorization plugin share: bounded JSON bodies, one error shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

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
        if not (declared.isascii() and declared.isdigit()):
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
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "recursion" in str(exc).lower() or "depth limit" in str(exc).lower():
            raise BadRequest("request body nests JSON too deeply") from None
        raise BadRequest(f"request body is not valid JSON: {str(exc).splitlines()[0][:200]}") from None


def json_response(content: Any, status_code: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type=media_type)
