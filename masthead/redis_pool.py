"""Connections to the Redis of ``MASTHEAD_REDIS_URL``, made the one way every user of it
needs: Redis must never hold a request up for long."""

from __future__ import annotations

from redis.asyncio import ConnectionPool

__all__ = ["connection_pool"]


def connection_pool(url: str) -> ConnectionPool:
    """A pool for ``url``, owned (and closed) by its caller.

    Short timeouts and no retries: a Redis that stopped answering must cost a request a
    fraction of a second, not redis-py's default five per call.
    """
    return ConnectionPool.from_url(
        url, socket_timeout=0.25, socket_connect_timeout=0.25, retry=None
    )
