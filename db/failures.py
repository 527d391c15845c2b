"""Telling a database that is away or too slow from any other failure.

Such a failure is the service's, not the request's: the caller should retry shortly, and
the answer says so (503 with ``Retry-After``) instead of masking it as an internal error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import exc

__all__ = ["DatabaseFailure", "cancelled_by_server", "database_failure", "once_more_if_stale"]

T = TypeVar("T")


class DatabaseFailure(StrEnum):
    # Unreachable: refused, cut, no connection free in time.
    UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # Reached, but it did not answer within the deadline (statement or command timeout).
    TIMEOUT = "TIMEOUT"


# PostgreSQL's query_canceled: statement_timeout (or a cancel) ended the statement.
_QUERY_CANCELED = "57014"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        original = getattr(current, "orig", None)
        current = (
            original
            if isinstance(original, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return seen


def cancelled_by_server(error: BaseException) -> bool:
    """PostgreSQL ended the statement (its ``statement_timeout``): the connection is fine."""
    return getattr(error, "sqlstate", None) == _QUERY_CANCELED


def database_failure(error: BaseException | None) -> DatabaseFailure | None:
    """Which kind of database failure ``error`` is, or None if it is none."""
    if error is None:
        return None
    for link in _chain(error):
        if getattr(link, "sqlstate", None) == _QUERY_CANCELED:
            return DatabaseFailure.TIMEOUT
        if isinstance(link, TimeoutError):
            return DatabaseFailure.TIMEOUT
        if isinstance(link, exc.TimeoutError):  # the pool had no connection in time
            return DatabaseFailure.UNAVAILABLE
        if isinstance(link, exc.DBAPIError) and link.connection_invalidated:
            return DatabaseFailure.UNAVAILABLE
        if isinstance(link, OSError):  # refused, reset, unreachable
            return DatabaseFailure.UNAVAILABLE
        if type(link).__name__ in ("ConnectionDoesNotExistError", "ConnectionFailureError"):
            return DatabaseFailure.UNAVAILABLE
    return None


async def once_more_if_stale(work: Callable[[], Awaitable[T]]) -> T:
    """``work``, run again once if it failed on a connection the server had closed.

    After a database restart every pooled connection is dead; the first to fail makes
    SQLAlchemy renew the pool, so a read run again gets a live one. Only for reads: a write
    that failed at its commit may have been committed.
    """
    try:
        return await work()
    except exc.DBAPIError as error:
        # A connection that timed out was alive but slow (or cut off): no second wait.
        if not error.connection_invalidated or database_failure(error) is DatabaseFailure.TIMEOUT:
            raise
    return await work()
