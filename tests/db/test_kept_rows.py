"""Kept read statements (``Database.kept_rows``): the rows SQLAlchemy would give, by
attribute and in order, on both databases; one statement each, seen by the engine's events;
and on PostgreSQL, where they go straight to asyncpg, the failures SQLAlchemy would report:
a dead connection found and dropped, a statement the server cancelled not run twice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import CompoundSelect, exc, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.dialects import POSTGRESQL, _DriverStatement, database_of
from db.failures import DatabaseFailure, database_failure
from db.models import Article, Author, utcnow
from resolvers.articles.related_lists import _lookup_statement
from resolvers.articles.related_posts import padded
from resolvers.loaders import _tags_of_articles
from resolvers.taxonomy.lookups import _by_slug
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.statements import StatementCounter


async def _seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    author = await make_author(sessionmaker, name="Ada", slug="ada")
    category = await make_category(sessionmaker)
    tags = [await make_tag(sessionmaker, name=n, slug=n) for n in ("beta", "alpha")]
    articles = [
        await make_article(sessionmaker, author=author, category=category, tags=tags)
        for _ in range(3)
    ]
    return [article.id for article in articles]


def _as_dicts(rows: Any) -> list[dict[str, Any]]:
    return [dict(zip(row._fields, row, strict=True)) for row in rows]


async def test_kept_rows_are_the_rows_sqlalchemy_reads(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    ids = await _seeded(sessionmaker)
    database = database_of(engine)
    cases: list[tuple[Any, dict[str, Any]]] = [
        (database.rows_by_id(Article.__table__), {"ids": ids}),  # type: ignore[arg-type]  # a mapped table
        (_tags_of_articles(database), {"ids": ids}),
        (_by_slug(Author.__table__), {"slug": "ada"}),
        # A union of five selects (no order: compared as sets below), columns unnamed.
        (_lookup_statement(database, 6), {"article_ids": padded(ids), "now": utcnow()}),
    ]
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with reads.connect() as connection:
        for statement, parameters in cases:
            expected = (await connection.execute(statement, parameters)).all()
            statements.reset()
            kept = await database.kept_rows(connection, statement, parameters)
            assert statements.count == 1
            assert expected
            if isinstance(statement, CompoundSelect):
                assert sorted(map(tuple, kept), key=repr) == sorted(map(tuple, expected), key=repr)
                continue
            assert _as_dicts(kept) == [dict(row._mapping) for row in expected]
            first = kept[0]
            assert first.id == expected[0].id and tuple(first) == tuple(expected[0])
    if database is POSTGRESQL:  # these go straight to the driver there
        assert all(_DriverStatement.of(s, engine.dialect) is not None for s, _ in cases)


async def test_in_a_transaction_kept_rows_go_through_sqlalchemy(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _seeded(sessionmaker)
    database = database_of(engine)
    async with sessionmaker.begin() as session:
        connection = await session.connection()
        await connection.execute(
            text("UPDATE articles SET title = 'Changed' WHERE id = :i"), {"i": ids[0]}
        )
        # The transaction's own write is seen: the read ran inside it.
        [row] = await database.kept_rows(
            connection,
            database.rows_by_id(Article.__table__),  # type: ignore[arg-type]  # a mapped table
            {"ids": [ids[0]]},
        )
        assert row.title == "Changed"
        await session.rollback()


def _postgresql_only(engine: AsyncEngine) -> None:
    if database_of(engine) is not POSTGRESQL:
        pytest.skip("SQLite's kept rows go through SQLAlchemy")


async def test_a_connection_closed_under_it_is_found_and_dropped(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _postgresql_only(engine)
    ids = await _seeded(sessionmaker)
    statement = POSTGRESQL.rows_by_id(Article.__table__)  # type: ignore[arg-type]  # a mapped table
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with reads.connect() as connection:
        pid = await connection.scalar(select(func.pg_backend_pid()))
        async with engine.connect() as other:
            await other.execute(select(func.pg_terminate_backend(pid)))
        with pytest.raises(exc.DBAPIError) as raised:
            await POSTGRESQL.kept_rows(connection, statement, {"ids": ids})
        assert raised.value.connection_invalidated
        assert database_failure(raised.value) is DatabaseFailure.UNAVAILABLE
    async with reads.connect() as connection:  # the pool hands out a live one
        assert len(await POSTGRESQL.kept_rows(connection, statement, {"ids": ids})) == 3


async def test_a_statement_cancelled_for_its_deadline_is_not_run_again(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    _postgresql_only(engine)
    slow = select(func.pg_sleep(2).label("slept"))
    assert _DriverStatement.of(slow, engine.dialect) is not None
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with reads.connect() as connection:
        await connection.execute(text("SET statement_timeout = 50"))
        statements.reset()
        with pytest.raises(Exception) as raised:  # asyncpg's own
            await POSTGRESQL.kept_rows(connection, slow, {})
        assert database_failure(raised.value) is DatabaseFailure.TIMEOUT
        assert statements.count == 1
        await connection.execute(text("RESET statement_timeout"))
        assert (await connection.scalar(select(func.count()).select_from(Article))) is not None
