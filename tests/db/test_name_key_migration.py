"""Migration 0005 keys the names already in a database, so they list as people read them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, inspect, select, text

from db.engine import create_engine, create_sessionmaker
from db.migration import alembic_config, upgrade
from db.models import ApiToken, ArticleTag, Author, Category, Tag
from db.name_keys import name_key
from resolvers.pagination import PageRequest
from resolvers.taxonomy.lookups import categories, name_page
from tests.support.databases import scratch_database

_BEFORE = "0004"

# Rows as a database at 0004 holds them, with foreign keys into every keyed table.
_ROWS = [
    "INSERT INTO authors (id, slug, name) VALUES (1, 'zoe', 'Zoë'), (2, 'al', 'al'),"
    " (3, 'elodie', 'Élodie'), (4, 'emile', 'Emile')",
    "INSERT INTO categories (id, slug, name, parent_id) VALUES (1, 'world', 'World', NULL),"
    " (2, 'europe', 'europe', 1), (3, 'arts', 'Ärts', NULL)",
    "INSERT INTO tags (id, slug, name) VALUES (1, 'tour', 'Tour de France'),"
    " (2, 'analysis', 'analysis'), (3, 'eu', 'European Union')",
    "INSERT INTO articles (id, slug, title, excerpt, body, status, published_at, created_at,"
    " updated_at, version, word_count, author_id, category_id) VALUES (1, 'p', 'Pelican',"
    " '', '<p>Words</p>', 'published', '2020-01-01', '2020-01-01', '2020-01-01', 1, 1, 1, 2)",
    "INSERT INTO article_tags (article_id, tag_id) VALUES (1, 1), (1, 3)",
    "INSERT INTO api_tokens (id, name, role, token_hash, author_id, created_at)"
    " VALUES (1, 'zoe', 'writer', 'hash', 1, '2020-01-01')",
]


def _name_key_columns(connection: Connection) -> dict[str, bool]:
    inspector = inspect(connection)
    return {
        table: column["nullable"]
        for table in ("authors", "categories", "tags")
        for column in inspector.get_columns(table)
        if column["name"] == "name_key"
    }


async def test_the_migration_keys_existing_names(dialect: str, tmp_path: Path) -> None:
    async with scratch_database(dialect, tmp_path) as url:
        # Alembic runs its own event loop: off this one, in a thread.
        await asyncio.to_thread(upgrade, url, _BEFORE)
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in _ROWS:
                    await connection.execute(text(statement))
            await asyncio.to_thread(upgrade, url)

            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                for model in (Author, Category, Tag):
                    rows = (await session.execute(select(model.name, model.name_key))).all()
                    assert rows and dict(rows) == {name: name_key(name) for name, _ in rows}
                authors = await name_page(session, Author, PageRequest(first=10))
                tags = await name_page(session, Tag, PageRequest(first=10))
                every_category = await categories(session, roots_only=False)
                # Rebuilding a table would have cascaded to, or been refused by, these.
                assert await session.scalar(select(ApiToken.author_id)) == 1
                links = await session.execute(select(ArticleTag.tag_id).order_by(ArticleTag.tag_id))
                assert links.scalars().all() == [1, 3]
            assert [a.slug for a in authors.rows] == ["al", "elodie", "emile", "zoe"]
            assert [t.slug for t in tags.rows] == ["analysis", "eu", "tour"]
            assert [c.slug for c in every_category] == ["arts", "europe", "world"]
            async with engine.connect() as connection:
                nullable = await connection.run_sync(_name_key_columns)
            assert nullable == {"authors": False, "categories": False, "tags": False}

            # Down and up again: the keys go with their column and come back with it.
            await asyncio.to_thread(command.downgrade, alembic_config(url), _BEFORE)
            async with engine.connect() as connection:
                assert await connection.run_sync(_name_key_columns) == {}
            await asyncio.to_thread(upgrade, url)
            async with sessionmaker() as session:
                again = await name_page(session, Author, PageRequest(first=10))
            assert [a.slug for a in again.rows] == ["al", "elodie", "emile", "zoe"]
        finally:
            await engine.dispose()
