"""Engine and session factories, configured for SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.dialects import Timeouts, database_for_url

__all__ = ["create_engine", "create_read_sessionmaker", "create_sessionmaker"]


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: Timeouts | None = None
) -> AsyncEngine:
    """An async engine for ``url`` with the settings its database needs (``db.dialects``);
    a serving engine passes ``timeouts``."""
    database = database_for_url(url)
    options = database.engine_options(pool_size=pool_size, timeouts=timeouts)
    engine = create_async_engine(url, echo=echo, **options)
    database.prepare(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that write nothing, on the same pool: each statement on its own.

    A transaction would cost two round trips per session (``BEGIN``, and the ``ROLLBACK``
    when the connection goes back to the pool) around what is usually one statement, and a
    request runs a session per loader batch. Each statement still sees one consistent
    state (PostgreSQL's READ COMMITTED, which reads had anyway, or one SQLite statement).
    """
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False,
        autoflush=False,
    )
