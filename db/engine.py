"""Engine and session factories, configured for SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.dialects import Timeouts, database_for_url

__all__ = ["create_engine", "create_sessionmaker"]


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
