"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import db
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


def test_alembic_config_finds_every_migration() -> None:
    config = alembic_config("sqlite+aiosqlite:///a%20b.db")
    # The URL survives Alembic's interpolation of "%".
    assert config.get_main_option("sqlalchemy.url") == "sqlite+aiosqlite:///a%20b.db"
    scripts = ScriptDirectory.from_config(config)
    versions = Path(db.__file__).resolve().parent / "migrations" / "versions"
    on_disk = sorted(path.stem for path in versions.glob("[0-9]*.py"))
    chain = [Path(script.path).stem for script in scripts.walk_revisions()]
    assert on_disk and sorted(chain) == on_disk
    # One linear history, whose head is the newest file.
    assert scripts.get_heads() == [scripts.get_current_head()]
    assert chain[0] == on_disk[-1]
