"""Read sessions that end cleanly even when the field that asked for them is cancelled.

When one field fails, graphql-core cancels its sibling fields (``gather_with_cancel``) and
Strawberry's DataLoader then cancels batches nobody awaits. Cancelled in the middle of a
query, SQLAlchemy has to terminate the connection instead of returning it to the pool. So
each read runs in a task of its own, shielded from the cancellation, and the request waits
for the ones still running (:meth:`ReadSessions.settle`) before it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.failures import once_more_if_stale

__all__ = ["ReadSessions"]

T = TypeVar("T")


class ReadSessions:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._running: set[asyncio.Task[Any]] = set()

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work`` in a session of its own, which no other task shares."""

        async def in_session() -> T:
            async with self._sessionmaker() as session:
                return await work(session)

        async def read() -> T:
            return await once_more_if_stale(in_session)

        task = asyncio.ensure_future(read())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def settle(self) -> None:
        """Wait for reads still running (their results are no longer wanted)."""
        await asyncio.sleep(0)  # batches already scheduled start first
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
            await asyncio.sleep(0)
