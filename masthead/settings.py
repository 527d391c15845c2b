"""Settings: the only module that reads the environment (``MASTHEAD_*`` or ``.env``)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "normalize_database_url"]


def normalize_database_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async driver."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


class Settings(BaseSettings):
    """Everything Masthead can be configured with."""

    model_config = SettingsConfigDict(env_prefix="MASTHEAD_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///masthead.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 5000
    max_query_cost: int = 10_000
    max_query_fields: int = 2_000
    max_body_bytes: int = 100_000
    max_batch_operations: int = 10
    db_pool_size: int = 10
    # Deadlines, in seconds: each statement (PostgreSQL), connecting, waiting for a pooled
    # connection, and a whole request.
    db_statement_timeout: float = 1.5
    db_connect_timeout: float = 1.5
    db_pool_timeout: float = 1.0
    request_timeout: float = 10.0
    log_sql: bool = False

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)
