"""The per-request reader of one value (``db.dialects.ScalarReader``): it sees every write
committed before it reads, its statements reach the engine's statement events on both
databases, and SQLite's, read in the event loop, falls back to the pool when it cannot."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.dialects import SQLITE, _InlineSQLiteReader, database_of
from db.models import CacheInvalidation, utcnow
from resolvers.cache_invalidations import current_sequence, record
from resolvers.cache_tags import Staleness
from tests.support.statements import StatementCounter

_SEQUENCE = select(CacheInvalidation.seq).where(CacheInvalidation.tag_key == 0)


async def test_each_read_sees_the_writes_committed_before_it(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    reader = database_of(engine).scalar_reader(engine)
    before = await current_sequence(reader)
    for _ in range(3):
        async with sessionmaker.begin() as session:
            await record(session, Staleness.everything(), now=utcnow())
        async with sessionmaker() as session:
            committed = await current_sequence(session)
        statements.reset()
        assert await current_sequence(reader) == committed > before
        [statement] = statements.statements  # seen by the engine's events, inline or not
        assert "cache_invalidations" in statement
        before = committed


async def test_sqlite_falls_back_to_the_pool_when_its_own_read_fails(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    if database_of(engine) is not SQLITE:
        pytest.skip("SQLite reads in the event loop; PostgreSQL always through the pool")
    async with sessionmaker.begin() as session:
        await record(session, Staleness.everything(), now=utcnow())
        await session.execute(
            update(CacheInvalidation).where(CacheInvalidation.tag_key == 0).values(seq=4242)
        )
    # A reader whose file cannot be opened (its folder does not exist).
    reader = _InlineSQLiteReader(engine, str(tmp_path / "gone" / "x.db"))
    with caplog.at_level(logging.WARNING, logger="masthead.db"):
        assert await reader.scalar(_SEQUENCE) == 4242
        assert await reader.scalar(_SEQUENCE) == 4242
    warnings = [r for r in caplog.records if "through the pool" in r.getMessage()]
    assert len(warnings) == 1  # said once, not on every read
    reader.close()
