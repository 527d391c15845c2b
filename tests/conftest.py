"""Fixtures: every data test runs on SQLite and on PostgreSQL, through the real app."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from db.migration import upgrade
from db.models import Base
from masthead.app import close, create_app
from masthead.settings import Settings
from tests.support.databases import admin_execute, postgres_admin_url
from tests.support.statements import StatementCounter


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database migrated to head for this test session, or None."""
    admin = postgres_admin_url()
    if admin is None:
        if os.environ.get("MASTHEAD_REQUIRE_POSTGRES") == "1":
            pytest.fail("MASTHEAD_REQUIRE_POSTGRES=1 but no PostgreSQL answers on 127.0.0.1:5432")
        yield None
        return
    name = f"masthead_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_execute(admin, f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "masthead.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _empty_postgres(url: str) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    await admin_execute(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_url: str | None,
) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "masthead.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable (set MASTHEAD_TEST_POSTGRES_URL)")
    await _empty_postgres(postgres_url)
    return postgres_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Connecting, or a statement, may take PostgreSQL longer than production's 1.5 s while
    # the suite loads both cores, probably behind the immediate checkpoints a test's CREATE
    # or DROP DATABASE forces (up to 17,000 files fsynced, a second each, in PostgreSQL's
    # log): twice in CI a fixture's statement timed out there. The tests of deadlines set
    # their own (tests/app/test_outages.py, test_disconnects.py, test_slow_clients.py).
    return Settings(  # type: ignore[call-arg]  # pydantic-settings init kwarg
        database_url=database_url,
        db_connect_timeout=10.0,
        db_statement_timeout=10.0,
        _env_file=None,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    yield application
    await close(application)


@pytest.fixture
def engine(app: Starlette) -> AsyncEngine:
    engine: AsyncEngine = app.state.engine
    return engine


@pytest.fixture
def sessionmaker(app: Starlette) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return factory


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts the SQL statements the app sends (BEGIN/COMMIT are not statements here)."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter.record)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter.record)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def dialect(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
