"""Settings: the only module that reads the environment (``MASTHEAD_*`` or ``.env``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator
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

    # development: GraphiQL and introspection on; production: both off unless set, and
    # settings that are unsafe to serve with are refused at start.
    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///masthead.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Connections and requests a worker holds at once; beyond, uvicorn answers 503.
    max_connections: int = 1_000
    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 5000
    max_query_cost: int = 10_000
    max_query_fields: int = 2_000
    max_body_bytes: int = 100_000
    max_batch_operations: int = 10
    # Subscriptions (and operations in flight) one WebSocket connection may hold at once.
    max_subscriptions_per_connection: PositiveInt = 10
    db_pool_size: int = 20
    # Deadlines, in seconds: each statement (PostgreSQL), connecting, waiting for a pooled
    # connection, and a whole request.
    db_statement_timeout: float = 1.5
    db_connect_timeout: float = 1.5
    db_pool_timeout: float = 1.0
    request_timeout: float = 10.0
    # Whole seconds a connection has to send a request's headers, from its opening or from
    # the previous answer; so also how long an idle connection is kept (uvicorn's keep-alive).
    header_timeout: PositiveInt = 5  # 0 would close every connection as it opens
    log_sql: bool = False
    # The access log (masthead.access_log), a line a request on stdout in uvicorn's format
    # (off when a proxy in front logs).
    access_log: bool = True
    # Cost a client (a token, or an address) may spend a minute; 0 switches limits off.
    rate_limit: int = 50_000
    # Redis, shared by every process: rate limits count there, persisted queries and cached
    # answers are kept there.
    redis_url: str | None = None
    # Prefix of Masthead's keys in Redis, so that several sites can share one server.
    redis_namespace: str = "masthead"
    # Documents the automatic persisted queries store keeps, the least recently used
    # dropped first (in each process, and in Redis when it is set).
    persisted_queries_max: PositiveInt = 1_000
    # Lifetimes (seconds) in the Cache-Control of anonymous GET answers: max-age (never past
    # the next scheduled publish), how long a cache may serve one stale while it asks again,
    # and how long while Masthead fails.
    cache_max_age: NonNegativeInt = 60
    cache_stale_while_revalidate: NonNegativeInt = 30
    cache_stale_if_error: NonNegativeInt = 86_400
    # A shared answer names its cache tags in Cache-Tag and Surrogate-Key headers (and in
    # extensions.apolloCacheTags) up to this many bytes a header; beyond, it names none and
    # is `public, no-cache`. Proxies cap response headers too (nginx: proxy_buffer_size).
    cache_tags_max_bytes: PositiveInt = 8_000
    # Masthead's own cache of anonymous GET answers (masthead.response_cache): on or off,
    # the bytes each process keeps, and how long an answer is kept at most (seconds; a
    # write or a scheduled publish drops it sooner; at most half the day the invalidation
    # log keeps its rows, resolvers.cache_invalidations). In Redis too with MASTHEAD_REDIS_URL.
    response_cache: bool = True
    response_cache_max_bytes: PositiveInt = 64 * 1024 * 1024
    response_cache_ttl: Annotated[int, Field(gt=0, le=43_200)] = 3_600
    # Origins browsers may call from (comma-separated); credentials are never allowed.
    cors_origins: str = "*"
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed
    # (comma-separated, uvicorn's forwarded_allow_ips); empty: none.
    trusted_proxies: str = ""
    # Webhooks (masthead.event_worker): `masthead serve` delivers in-process unless
    # serve_worker is off (then run `masthead worker`); an attempt's deadline (seconds);
    # attempts before a delivery is FAILED; the first retry's delay (seconds, doubling with
    # each attempt, with jitter); how often an idle worker looks for work (seconds).
    serve_worker: bool = True
    webhook_timeout: Annotated[float, Field(gt=0, le=60)] = 10.0
    webhook_max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    webhook_retry_base: Annotated[float, Field(gt=0)] = 30.0
    webhook_poll_interval: Annotated[float, Field(gt=0, le=60)] = 0.5
    # Hosts (comma-separated) whose webhook URLs may resolve to loopback, private or
    # link-local addresses in production; anywhere else such URLs are refused.
    webhook_allowed_hosts: str = ""

    @property
    def webhook_allowed_host_set(self) -> frozenset[str]:
        hosts = self.webhook_allowed_hosts.split(",")
        return frozenset(host.strip().lower() for host in hosts if host.strip())

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.env != "production":
            return self
        for name in ("graphiql", "introspection"):
            if name not in self.model_fields_set:
                setattr(self, name, False)
        unsafe = []
        if "database_url" not in self.model_fields_set:
            unsafe.append(
                "MASTHEAD_DATABASE_URL is not set (the default is a file in the working directory)"
            )
        if self.log_sql:
            unsafe.append("MASTHEAD_LOG_SQL=true writes every statement and its values to the log")
        if unsafe:
            raise ValueError("MASTHEAD_ENV=production refuses to start: " + "; ".join(unsafe))
        return self

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)
