"""Running one write: a single transaction that wholly happens or leaves no trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of
from resolvers.access.viewer import Viewer
from resolvers.errors import Rejected, UserError

__all__ = ["Actor", "Outcome", "Raced", "in_one_transaction"]

T = TypeVar("T")

# A write checks before it writes. On SQLite the transaction takes the write lock first
# (BEGIN IMMEDIATE), so nothing can slip in between. On PostgreSQL the rows written are read
# FOR NO KEY UPDATE and slugs are picked under an advisory lock, yet a concurrent insert can
# still win a race the checks could not see (a given slug that another writer generates): a
# constraint refuses the write, and it is done again afresh, when the checks see the other
# write and answer with a proper payload error.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Actor:
    """Who writes, and the time the write is stamped with."""

    viewer: Viewer
    now: datetime


class Raced(Exception):
    """A row changed between reading and writing it: the write must be done again."""


# PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply be
# run again.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def _worth_retrying(error: Exception) -> bool:
    if isinstance(error, Raced | IntegrityError):
        return True
    assert isinstance(error, DBAPIError)
    return getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The written object, or why nothing was written."""

    value: T | None
    errors: tuple[UserError, ...] = ()


async def in_one_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    write: Callable[[AsyncSession], Awaitable[T]],
) -> Outcome[T]:
    """Run ``write`` in one transaction: committed if it returns, rolled back if it raises.

    ``Rejected`` becomes the outcome's errors; a lost race is retried a few times; any other
    exception propagates (after the rollback) to be masked at the edge.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with sessionmaker.begin() as session:
                await database_of(session).begin_write(session)
                value = await write(session)
        except Rejected as rejected:
            return Outcome(None, rejected.errors)
        except (Raced, DBAPIError) as error:
            if attempt == _ATTEMPTS or not _worth_retrying(error):
                raise
            continue
        return Outcome(value)
    raise AssertionError("unreachable")  # the loop returns or raises
