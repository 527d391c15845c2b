"""What the app sends and how the database would run it, and the app on a database of a
given collation: for tests that an index serves a statement, whatever the collation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from db.migration import upgrade
from masthead.app import close, create_app
from masthead.settings import Settings
from tests.support.databases import scratch_database

__all__ = ["app_on_icu_database", "plan", "sent"]


@contextmanager
def sent(engine: AsyncEngine, containing: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) sent in the block whose SQL holds ``containing``."""
    found: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if containing in statement:
            found.append((statement, parameters))

    listener = (engine.sync_engine, "before_cursor_execute", record)
    event.listen(*listener)
    try:
        yield found
    finally:
        event.remove(*listener)


async def plan(engine: AsyncEngine, dialect: str, statement: str, parameters: Any) -> str:
    """The database's plan for ``statement``, one line per step."""
    async with engine.connect() as connection:
        if dialect == "postgresql":
            # Test tables are tiny: without this the planner would rightly read them whole.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        else:
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in rows)


@asynccontextmanager
async def app_on_icu_database(
    dialect: str, tmp_path: Path, icu_locale: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The app on a PostgreSQL database whose default collation is ICU's ``icu_locale``."""
    if dialect != "postgresql":
        pytest.skip("SQLite has no database-wide collation")
    icu = f"TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}' LOCALE 'C.UTF-8'"
    async with scratch_database(dialect, tmp_path, options=icu) as url:
        await asyncio.to_thread(upgrade, url)  # Alembic runs an event loop of its own
        app = create_app(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]  # pydantic-settings init kwarg
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http, app
        finally:
            await close(app)
