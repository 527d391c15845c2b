"""Alembic, driven from code: ``masthead db upgrade`` and the tests share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "include_object", "upgrade"]

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
