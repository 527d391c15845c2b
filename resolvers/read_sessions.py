"""Read sessions that end cleanly even when the field that asked for them is cancelled.

When one field fails, graphql-core cancels its sibling fields (``gather_with_cancel``) and
Strawberry's DataLoader then cancels batches nobody awaits. Cancelled in the middle of a
query, SQLAlchemy has to terminate the connection instead of returning it to the pool. So
each read runs in a task of its own, shielded from the cancellation, and the request waits
for the ones still running (:meth:`ReadSessions.settle`) before it ends.

Reads running at the same time (the loader batches of one tick) take turns on one session,
which goes back to the pool when the last of them ends: a session and a pool checkout per
batch cost about as much CPU as the batch's statement. Each read still starts from an empty
identity map, so it sees rows as they are now, as it would in a session of its own.
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
        self._turn = asyncio.Lock()
        self._session: AsyncSession | None = None
        self._readers = 0

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work`` in the shared session, which no other read uses meanwhile."""

        async def in_session() -> T:
            async with self._turn:
                if self._session is None:
                    self._session = self._sessionmaker()
                session = self._session
                try:
                    return await work(session)
                except BaseException:
                    # Whatever state the failure left the session in, no later read sees it.
                    self._session = None
                    await session.close()
                    raise
                finally:
                    session.expunge_all()

        async def read() -> T:
            self._readers += 1
            try:
                return await once_more_if_stale(in_session)
            finally:
                self._readers -= 1
                if not self._readers:
                    await self._release()

        task = asyncio.ensure_future(read())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _release(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def settle(self) -> None:
        """Wait for reads still running (their results are no longer wanted)."""
        await asyncio.sleep(0)  # batches already scheduled start first
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
            await asyncio.sleep(0)
