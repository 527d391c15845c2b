"""The invalidation log: when each cache tag last went stale, kept in the database.

Every write that changes what anonymous readers see records, *in its own transaction*, the
tags it made stale (``resolvers.cache_tags``): so its commit and its invalidation are one
event, seen by every process reading the database, and no failure can leave one without
the other. Each recording write takes the next number of a sequence (the row of key 0, locked
until its commit, so numbers are committed in order) and stamps its tags' rows with it.

A cached answer remembers the sequence number read *before* it was computed (:func:`basis`,
with the next scheduled publish, in one statement). It is still right while no tag of it
has a later number (:func:`still_valid`, one indexed read): a write committed before that
read is in the answer; one committed after has a later number. While the sequence itself
has not moved past its stamp (:func:`current_sequence`), no tag has either. A number past
the sequence itself means the log went back (a restored backup): the answer is not trusted
either.

Numbers are ``max(previous + 1, now in microseconds)``, so they keep growing across a
database emptied or restored, and ``all`` (``masthead cache clear``) then drops every answer
computed before. Tags are keyed by a 32-bit hash: two tags sharing a key only make an answer
drop a little early, never kept too long. Rows older than any kept answer
(:data:`RETENTION`) are pruned now and then by the writes themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.dialects import ScalarReader, database_of
from db.models import CacheInvalidation
from resolvers.cache_tags import Staleness
from resolvers.publishing_schedule import next_scheduled_change_query

__all__ = [
    "RETENTION",
    "Basis",
    "basis",
    "current_sequence",
    "record",
    "still_valid",
    "tag_key",
    "tag_keys",
]

RETENTION = timedelta(days=1)
"""How long a tag's row is kept: longer than any cached answer lives."""

_SEQUENCE = 0
_TABLE = cast(Table, CacheInvalidation.__table__)
# About one recording write in this many prunes rows past RETENTION.
_PRUNE_EVERY = 64


def tag_key(tag: str) -> int:
    """The tag's key in the log: a signed 32-bit hash, never the sequence's 0."""
    digest = hashlib.blake2b(tag.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True) or 1


def tag_keys(tags: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({tag_key(tag) for tag in tags}))


@dataclass(frozen=True)
class Basis:
    """What an answer about to be computed is computed against."""

    # The sequence number of the latest recorded write (0 before any).
    stamp: int
    # The next scheduled publish: the answer may change then without a write.
    changes_at: datetime | None


async def basis(session: AsyncSession, *, now: datetime) -> Basis:
    """The sequence and the next scheduled publish after ``now``, in one statement, read
    before the answer is computed."""
    sequence = (
        select(CacheInvalidation.seq)
        .where(CacheInvalidation.tag_key == _SEQUENCE)
        .scalar_subquery()
    )
    row = (await session.execute(select(sequence, next_scheduled_change_query(after=now)))).one()
    stamp, changes_at = row
    return Basis(int(stamp or 0), changes_at)


async def still_valid(
    session: AsyncSession | AsyncConnection, *, stamp: int, keys: Sequence[int]
) -> int | None:
    """The sequence number up to which an answer computed against ``stamp`` with these tag
    keys is still right, or None: a key made stale since, or the log gone back past it. One
    read of the primary key, so an answer found right may be stamped with that number."""
    rows = await session.execute(
        select(CacheInvalidation.tag_key, CacheInvalidation.seq).where(
            database_of(session).any_of(CacheInvalidation.tag_key, [_SEQUENCE, *keys]),
            or_(CacheInvalidation.seq > stamp, CacheInvalidation.tag_key == _SEQUENCE),
        )
    )
    sequence = 0
    for key, seq in rows:
        if key != _SEQUENCE:
            return None
        sequence = seq
    return sequence if stamp <= sequence else None


# Built once: a cache hit reads it, and building costs more than the read's Python.
_CURRENT_SEQUENCE = select(CacheInvalidation.seq).where(CacheInvalidation.tag_key == _SEQUENCE)


async def current_sequence(bind: AsyncSession | AsyncConnection | ScalarReader) -> int:
    """The number of the latest recorded write (0 before any): an answer stamped with it
    is right, whatever its tags."""
    sequence = await bind.scalar(_CURRENT_SEQUENCE)
    return int(sequence or 0)


async def record(
    session: AsyncSession, stale: Staleness | Collection[str], *, now: datetime
) -> None:
    """Record, in the write's transaction and as its last step, that these tags went stale.

    The sequence's row stays locked until the commit (PostgreSQL; on SQLite the write holds
    the database), so writes that record are committed in the order of their numbers.
    """
    tags = stale.cache_tags() if isinstance(stale, Staleness) else stale
    keys = tag_keys(tags)
    if not keys:
        return
    micros = int(now.replace(tzinfo=UTC).timestamp() * 1_000_000)  # now: naive UTC
    database = database_of(session)
    taken = database.insert(_TABLE).values(tag_key=_SEQUENCE, seq=micros, changed_at=now)
    following = case((_TABLE.c.seq + 1 > micros, _TABLE.c.seq + 1), else_=micros)
    seq: int = (
        await session.execute(
            taken.on_conflict_do_update(
                index_elements=[_TABLE.c.tag_key], set_={"seq": following, "changed_at": now}
            ).returning(_TABLE.c.seq)
        )
    ).scalar_one()
    rows = [{"tag_key": key, "seq": seq, "changed_at": now} for key in keys]
    stamped = database.insert(_TABLE).values(rows)
    await session.execute(
        stamped.on_conflict_do_update(
            index_elements=[_TABLE.c.tag_key],
            set_={"seq": stamped.excluded.seq, "changed_at": stamped.excluded.changed_at},
        )
    )
    if seq % _PRUNE_EVERY == 0:
        await session.execute(
            delete(CacheInvalidation).where(
                CacheInvalidation.tag_key != _SEQUENCE,
                CacheInvalidation.changed_at < now - RETENTION,
            )
        )
