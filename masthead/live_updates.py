"""The feed behind GraphQL subscriptions: each process's announcements of article writes.

Every article write announces itself at commit (``resolvers.articles.announcements``). A
process with subscribers hears them all, from every process:

- on PostgreSQL, by ``LISTEN`` on a connection of its own: the server hands each commit's
  NOTIFY to every listening process, in commit order;
- on SQLite, from the writes this process commits; with ``MASTHEAD_REDIS_URL`` these are
  published to Redis and every process hears them all from there. Without Redis, an SQLite
  site serves subscriptions from one process: subscribers hear only the writes made
  through the process they are connected to.

Scheduled publishes and unpublishes are announced by the event worker when it fires them
(``resolvers.events.schedule``), like any write, so they reach every process as writes do.

The feed starts with the first subscriber (on SQLite with Redis, relaying this process's
commits starts with the app) and runs until the app closes. A subscriber is
handed announcements through a queue of its own; one that falls too far behind loses the
oldest (each subscriber reads the article again anyway, so only the latest state counts).
When the listening connection is lost, the feed listens again; writes committed while it
was away are not heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from db.dialects import DatabaseKind, Listening, database_of
from resolvers.articles.announcements import CHANNEL, Announcement, decode

__all__ = ["ArticleFeed"]

logger = logging.getLogger("masthead.live_updates")

# Announcements a subscriber may fall behind by before it loses the oldest.
_QUEUE_SIZE = 256
_RELISTEN_DELAY = 1.0


class ArticleFeed:
    """Announcements of article writes and scheduled instants, to this process's
    subscribers (``resolvers.articles.announcements.AnnouncementFeed``)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        redis_url: str | None,
        namespace: str,
    ) -> None:
        self._engine = engine
        # Redis carries SQLite's announcements between processes; PostgreSQL carries its own.
        self._redis: Redis | None = None
        if redis_url is not None and database_of(engine).kind is DatabaseKind.SQLITE:
            self._redis = Redis.from_url(redis_url, socket_connect_timeout=2)
        self._redis_channel = f"{namespace}:{CHANNEL}"
        self._subscribers: set[asyncio.Queue[Announcement]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._local: asyncio.Task[None] | None = None
        self._started = False

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[Announcement]]:
        """Announcements from now on, for as long as the block runs."""
        queue: asyncio.Queue[Announcement] = asyncio.Queue(_QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            await self._start()
            yield _drain(queue)
        finally:
            self._subscribers.discard(queue)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks, self._local, self._started = [], None, False
        if self._redis is not None:
            await self._redis.aclose()

    async def open(self) -> None:
        """At the app's start: on SQLite with Redis, this process's commits are relayed to
        the others' subscribers from now on, whether or not it has subscribers itself."""
        if self._redis is not None and self._local is None:
            self._local = asyncio.create_task(self._listen(asyncio.Event()))
            self._tasks.append(self._local)

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        ready = asyncio.Event()
        if self._redis is None:
            self._tasks.append(asyncio.create_task(self._listen(ready)))
        else:
            await self.open()
            self._tasks.append(asyncio.create_task(self._relay(ready)))
        # A subscriber hears every write committed after its subscription is acknowledged.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await ready.wait()

    def _dispatch(self, announcement: Announcement) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(announcement)

    def _heard(self, payload: str) -> None:
        for announcement in decode(payload):
            self._dispatch(announcement)

    def _committed_here(self, payload: str) -> None:
        """SQLite with Redis: this process's commits go to every process through Redis."""
        assert self._redis is not None
        task = asyncio.get_running_loop().create_task(self._publish(self._redis, payload))
        task.add_done_callback(_log_failure)

    async def _publish(self, redis: Redis, payload: str) -> None:
        await redis.publish(self._redis_channel, payload)

    async def _listen(self, ready: asyncio.Event) -> None:
        deliver = self._heard if self._redis is None else self._committed_here
        database = database_of(self._engine)
        while True:
            listening: Listening | None = None
            try:
                listening = await database.listen(self._engine, CHANNEL, deliver)
                if self._redis is None:
                    ready.set()
                await listening.lost.wait()
                logger.warning("the connection announcing writes was lost; listening again")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("cannot listen for announced writes: %s", error)
            finally:
                if listening is not None:
                    with contextlib.suppress(Exception):
                        await listening.stop()
            await asyncio.sleep(_RELISTEN_DELAY)

    async def _relay(self, ready: asyncio.Event) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._redis_channel)
                    ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            self._heard(data.decode() if isinstance(data, bytes) else data)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Redis relaying announced writes failed: %s", error)
            await asyncio.sleep(_RELISTEN_DELAY)


async def _drain(queue: asyncio.Queue[Announcement]) -> AsyncIterator[Announcement]:
    while True:
        yield await queue.get()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("cannot publish an announced write to Redis: %s", task.exception())
