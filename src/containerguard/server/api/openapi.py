"""The OpenAPI document at ``/api/v1/openapi.json``, made to say what the API does.

FastAPI's generated document knows nothing of what the routes check by hand, so it described another API: no
security scheme (a generated client sent no token and met 401 everywhere), no 401/403/409/413/429 answers, and
its 422 body was FastAPI's ``HTTPValidationError`` (``detail`` a list of ``{loc, msg, type, input}``) while the
server answers ``{"detail": "one line", "errors": [{loc, msg, type}]}`` (api/strict.py). ``document(app)``
completes it from the routes themselves:

- every ``/api/v1`` operation names the bearer scheme with the permission its ``require(...)`` dependency checks
  as the requirement's scope (deps.require declares it), and the roles that hold it (``x-permission``,
  ``x-roles``, and a line in its description), so the role table and the document cannot drift apart;
- the registry notification webhook names its own credential: the registry's shared secret, also as a bearer;
- the error answers each operation can give, all with the one ``Error`` body the server sends;
- ``HTTPValidationError`` is the server's real 422 body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from containerguard.server import auth

PREFIX = "/api/v1"

_ERROR = {"$ref": "#/components/schemas/Error"}
_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "title": "Error", "required": ["detail"],
        "properties": {"detail": {"type": "string", "description": "why, in one line"}},
    },
    "ValidationError": {
        "type": "object", "title": "ValidationError", "required": ["loc", "msg", "type"],
        "properties": {"loc": {"type": "array", "items": {"type": "string"}},
                       "msg": {"type": "string"}, "type": {"type": "string"}},
    },
    "HTTPValidationError": {
        "type": "object", "title": "HTTPValidationError", "required": ["detail"],
        "properties": {"detail": {"type": "string", "description": "the first problems, in one line"},
                       "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"},
                                  "description": "each problem (never the value sent)"}},
    },
}
_ANSWERS = {
    "400": "The request cannot be processed (a NUL in the URL, an empty upload, ...)",
    "401": "No bearer token, or an unknown or revoked one",
    "403": "The token's role lacks the permission this operation needs",
    "404": "No such object",
    "409": "Conflicts with stored data (a name taken, the last admin token, a change made at the same moment)",
    "413": "The request body is larger than the server's limit (--max-body-mb)",
    "429": "Too many failed authentications from this address; retry after a minute",
}
#: the one route authenticated by something else than an API token
_SHARED_SECRET = {("post", f"{PREFIX}/registries/{{name}}/notifications")}


def roles_with(permission: str) -> list[str]:
    return [r for r in auth.ROLE_NAMES if auth.allowed(r, permission)]


def _permission(op: dict[str, Any]) -> str | None:
    """The permission ``deps.require`` checks: the scope of the operation's bearer requirement."""
    for req in op.get("security") or ():
        scopes = req.get("bearerToken")
        if scopes:
            return str(scopes[0])
    return None


def _complete(op: dict[str, Any], method: str, path: str) -> None:
    permission = _permission(op)
    responses = op.setdefault("responses", {})
    codes = ["401", "429"]
    if (method, path) in _SHARED_SECRET:
        op["security"] = [{"registrySecret": []}]
        op["description"] = (op.get("description", "") + "\n\nAuthenticated by the registry's shared webhook secret "
                             "(`Authorization: Bearer SECRET`), not by an API token.").strip()
        codes += ["400", "404"]
    elif permission is not None:
        roles = roles_with(permission)
        op["x-permission"] = permission
        op["x-roles"] = roles
        op["description"] = (op.get("description", "") + f"\n\nNeeds permission `{permission}` "
                             f"(roles: {', '.join(roles)}).").strip()
        codes.append("403")
    if "{" in path:
        codes.append("404")
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
    if "requestBody" in op:
        codes.append("413")
    for code in sorted(set(codes)):
        responses.setdefault(code, {"description": _ANSWERS[code], "content": {"application/json": {"schema": _ERROR}}})
    if "422" in responses:
        responses["422"] = {"description": "The request does not validate (body, path or query parameter)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                      description=app.description, routes=app.routes)
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(_SCHEMAS)
    components.setdefault("securitySchemes", {})["registrySecret"] = {
        "type": "http", "scheme": "bearer",
        "description": "The shared secret given with the registry (`registry add --webhook-secret-env`)"}
    for path, ops in doc.get("paths", {}).items():
        if path.startswith(PREFIX):
            for method, op in ops.items():
                _complete(op, method, path)
    return doc


def document(app: FastAPI) -> None:
    """Serve the completed document (built once, on the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
