"""The service layer: plain functions taking a SQLAlchemy ``Session`` (and typed arguments) that the REST
API, the web console and the jobs all call. Routes only authenticate, validate the body and map errors to
status codes; queries and writes live here. A function never commits: the caller's transaction does
(``store.transaction``), so a failure anywhere writes nothing.

Errors: :class:`NotFound` (404), :class:`Conflict` (409), :class:`Invalid` (422) -- all ``ServerError``.
"""

from __future__ import annotations

from containerguard.errors import ServerError


class NotFound(ServerError):
    pass


class Conflict(ServerError):
    pass


class Invalid(ServerError):
    pass


class Forbidden(ServerError):
    pass


__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound"]
