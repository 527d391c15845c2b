"""Alembic, driven from code: ``masthead db upgrade`` and the tests share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from db.engine import create_engine

__all__ = ["alembic_config", "include_object", "pending_migration", "upgrade"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# The search index (migrations 0002 and 0003) lives outside the models: FTS5 tables and a
# view on SQLite, generated tsvector columns (the whole article, the title alone) with their
# GIN indexes on PostgreSQL. Autogenerate must not propose dropping them.
_SEARCH_OBJECTS = (
    "article_search",
    "search_document",
    "search_title",
    "ix_articles_search_document",
    "ix_articles_search_title",
)


def include_object(_object: object, name: str | None, *_args: object) -> bool:
    """Alembic's ``include_object`` hook: compare only what the models describe."""
    return not (name or "").startswith(_SEARCH_OBJECTS)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (blocking; runs its own loop)."""
    command.upgrade(alembic_config(database_url), revision)


async def pending_migration(database_url: str) -> str | None:
    """Why the database is not ready for Masthead (never migrated, or behind), or None."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()
    if current == head:
        return None
    if current is None:
        return "the database has no Masthead tables yet"
    return f"the database is at migration {current}, this Masthead needs {head}"


def _current_revision(connection: Connection) -> str | None:
    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision
