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


def refused_by_database(exc: BaseException) -> ServerError | None:
    """The service error for a write or query the database refused because of the request, or None.

    - a unique or foreign-key constraint (``IntegrityError``): two requests created the same named object at the
      same moment (the second passed the service's "exists?" check before the first committed), or the object
      went away meanwhile -> :class:`Conflict` (409), never a 500;
    - a value the database cannot hold (``DataError``: an id past its integer range, a NUL in PostgreSQL text;
      ``OverflowError``: SQLite's driver refusing an integer past 64 bits) -> :class:`Invalid` (422).

    One line, from the database's first line: the API and the console show the same reason."""
    from sqlalchemy.exc import DataError, IntegrityError

    if isinstance(exc, IntegrityError):
        why = _first_line(getattr(exc, "orig", None) or exc)
        return Conflict(f"conflicts with a stored record (created or changed by another request at the same "
                        f"moment?): {why}")
    if isinstance(exc, DataError):
        return Invalid(f"a value the database cannot take: {_first_line(getattr(exc, 'orig', None) or exc)}")
    if isinstance(exc, OverflowError):
        return Invalid(f"a number out of range: {_first_line(exc)}")
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or ["invalid value"])[0][:200]


__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "refused_by_database"]
