"""The engine's connection settings and the app's startup, on both databases."""

from __future__ import annotations

import gc

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette


async def test_connections_are_set_up_for_serving(engine: AsyncEngine, dialect: str) -> None:
    async with engine.connect() as connection:
        if dialect == "sqlite":
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        else:
            # JIT compiling cost a search tens of milliseconds (db/engine.py).
            assert (await connection.exec_driver_sql("SHOW jit")).scalar() == "off"


async def test_startup_puts_the_heap_it_made_out_of_the_collectors_sight(app: Starlette) -> None:
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
