"""Running the webhook worker (``resolvers.events.worker``) from the settings: inside
``masthead serve`` (each process, unless ``MASTHEAD_SERVE_WORKER=false``) or alone
(``masthead worker``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.settings import Settings
from resolvers.events.url_policy import UrlPolicy
from resolvers.events.worker import DeliveryOptions, run

__all__ = ["delivery_options", "running_worker", "url_policy"]


def url_policy(settings: Settings) -> UrlPolicy:
    """Production refuses webhook URLs on non-public addresses, but for the allowed hosts."""
    return UrlPolicy(
        guard_addresses=settings.env == "production",
        allowed_hosts=settings.webhook_allowed_host_set,
    )


def delivery_options(settings: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        timeout=settings.webhook_timeout,
        max_attempts=settings.webhook_max_attempts,
        retry_base=settings.webhook_retry_base,
        poll_interval=settings.webhook_poll_interval,
        policy=url_policy(settings),
    )


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[asyncio.Task[None]]:
    """The worker, running until the block ends (then stopped, its round finished)."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run(
            sessionmaker,
            delivery_options(settings),
            stop=stop,
            database_url=settings.database_url,
        ),
        name="masthead-worker",
    )
    try:
        yield task
    finally:
        stop.set()
        await task
