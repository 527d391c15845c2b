"""Migration 0006 orders the former slugs already in a database as exports listed them."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import create_engine, create_sessionmaker
from db.migration import alembic_config, upgrade
from db.models import ArticleSlug
from db.name_keys import name_key
from masthead.corpus.exporter import export_corpus
from resolvers.articles.former_slugs import Rename, keep_former_slugs
from tests.support.databases import scratch_database

_BEFORE = "0005_name_sort_keys"

_ARTICLE = (
    "INSERT INTO articles (id, slug, title, excerpt, body, status, published_at, created_at,"
    " updated_at, version, word_count, author_id, category_id) VALUES (:id, :slug, 'Title',"
    " '', '<p>Words</p>', 'published', '2020-01-01', '2020-01-01', '2020-01-01', 1, 1, 1, 1)"
)
# Rows as a database at 0005 holds them: former slugs written in no particular order, with
# a hyphen that sorts before letters by code point (a collation may ignore it).
_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("INSERT INTO authors (id, slug, name, name_key) VALUES (1, 'ann', 'Ann', :key)",
     {"key": name_key("Ann")}),
    ("INSERT INTO categories (id, slug, name, name_key) VALUES (1, 'news', 'News', :key)",
     {"key": name_key("News")}),
    (_ARTICLE, {"id": 1, "slug": "current"}),
    (_ARTICLE, {"id": 2, "slug": "second"}),
    (_ARTICLE, {"id": 3, "slug": "third"}),
    ("INSERT INTO article_slugs (slug, article_id) VALUES ('zz', 1), ('oldb', 1), ('old-b', 1),"
     " ('second-1', 2)", {}),
]  # fmt: skip


def _shape(connection: Connection) -> tuple[list[str], dict[str, tuple[list[str], bool]]]:
    """The columns of ``article_slugs``, and its indexes with their columns and uniqueness."""
    inspector = inspect(connection)
    columns = [column["name"] for column in inspector.get_columns("article_slugs")]
    indexes = {
        str(index["name"]): ([str(name) for name in index["column_names"]], index["unique"])
        for index in inspector.get_indexes("article_slugs")
    }
    return columns, indexes


async def _exported(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[str]]:
    out = io.StringIO()
    await export_corpus(sessionmaker, out)
    records = map(json.loads, out.getvalue().splitlines())
    return {r["key"]: r["previous_slugs"] for r in records if r["type"] == "article"}


async def test_the_migration_numbers_existing_former_slugs_in_slug_order(
    dialect: str, tmp_path: Path
) -> None:
    async with scratch_database(dialect, tmp_path) as url:
        # Alembic runs its own event loop: off this one, in a thread.
        await asyncio.to_thread(upgrade, url, _BEFORE)
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement, parameters in _ROWS:
                    await connection.execute(text(statement), parameters)
            await asyncio.to_thread(upgrade, url)

            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                rows = await session.execute(
                    select(ArticleSlug.article_id, ArticleSlug.position, ArticleSlug.slug)
                )
            assert sorted(tuple(row) for row in rows) == [
                (1, 1, "old-b"), (1, 2, "oldb"), (1, 3, "zz"), (2, 1, "second-1")
            ]  # fmt: skip
            before = {"p1": ["old-b", "oldb", "zz"], "p2": ["second-1"], "p3": []}
            assert await _exported(sessionmaker) == before
            async with engine.connect() as connection:
                assert await connection.run_sync(_shape) == (
                    ["slug", "article_id", "position"],
                    {"ix_article_slugs_article_id_position": (["article_id", "position"], True)},
                )
            # A slug left from now on comes after them, whatever its spelling.
            async with sessionmaker.begin() as session:
                await keep_former_slugs(session, [Rename(1, "current", "new", True)])
            assert (await _exported(sessionmaker))["p1"] == ["old-b", "oldb", "zz", "current"]

            # Down: the order goes with its column, and the index on article_id is back.
            await asyncio.to_thread(command.downgrade, alembic_config(url), _BEFORE)
            async with engine.connect() as connection:
                assert await connection.run_sync(_shape) == (
                    ["slug", "article_id"],
                    {"ix_article_slugs_article_id": (["article_id"], False)},
                )
                kept = await connection.execute(text("SELECT count(*) FROM article_slugs"))
                assert kept.scalar_one() == 5
            # Up again, nothing says which is older: slug order once more.
            await asyncio.to_thread(upgrade, url)
            assert await _exported(sessionmaker) == before | {
                "p1": ["current", "old-b", "oldb", "zz"]
            }
        finally:
            await engine.dispose()
