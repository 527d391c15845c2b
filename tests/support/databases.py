"""Reaching the PostgreSQL server the tests create their databases on."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from masthead.settings import normalize_database_url

__all__ = ["admin_execute", "postgres_admin_or_skip", "postgres_admin_url", "scratch_database"]

_DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str | None:
    """The server to create test databases on, or None when none answers."""
    url = os.environ.get("MASTHEAD_TEST_POSTGRES_URL")
    if url:
        return normalize_database_url(url)
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return _DEFAULT_PG
    except OSError:
        return None


async def admin_execute(url: str, statement: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_admin_or_skip() -> str:
    """The admin URL; without a server the test is skipped, or fails when one is required."""
    import pytest

    url = postgres_admin_url()
    if url is None:
        if os.environ.get("MASTHEAD_REQUIRE_POSTGRES") == "1":
            pytest.fail("MASTHEAD_REQUIRE_POSTGRES=1 but no PostgreSQL answers on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable (set MASTHEAD_TEST_POSTGRES_URL)")
    return url


@asynccontextmanager
async def scratch_database(
    dialect: str, directory: Path, *, options: str = ""
) -> AsyncIterator[str]:
    """The URL of an empty database of its own (not the session's), gone afterwards.

    ``options`` end PostgreSQL's ``CREATE DATABASE`` (a locale, say).
    """
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'scratch-{uuid.uuid4().hex[:12]}.db'}"
        return
    admin = postgres_admin_or_skip()
    name = f"masthead_scratch_{uuid.uuid4().hex[:12]}"
    await admin_execute(admin, f'CREATE DATABASE "{name}" {options}'.strip())
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
