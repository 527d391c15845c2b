"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migration import alembic_config, include_object
from db.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; alembic warns and skips them.
        warnings.simplefilter("ignore", UserWarning)
        return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {table.name for table in Base.metadata.sorted_tables} <= tables


def test_alembic_config_points_at_migrations() -> None:
    config = alembic_config("sqlite+aiosqlite:///x.db")
    assert (config.get_main_option("script_location") or "").endswith("migrations")
