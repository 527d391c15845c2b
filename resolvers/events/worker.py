"""The worker: fires scheduled publishes and unpublishes that are due
(``resolvers.events.schedule``) and sends due webhook deliveries, until told to stop.

Each round claims up to ``batch`` due deliveries in one short transaction, sends them
concurrently outside any transaction, and records each outcome. Claiming adds one to
``attempts`` and moves ``next_attempt_at`` past the attempt's deadline (``lease``), so a
claimed delivery is nobody else's while it is sent, and a worker that dies before recording
the outcome (killed, its host lost) leaves it due again once the lease runs out: nothing is
lost, and the receiver may see the event twice with the same event id. An outcome is
recorded only on the delivery as this worker claimed it (same ``attempts``).

An idle worker looks for due deliveries every ``poll_interval``, and at once when a
transaction of its own process that wrote events commits (``outbox.wakeup``).

Several processes: on PostgreSQL every worker delivers, claiming rows ``FOR UPDATE SKIP
LOCKED``, so two workers never claim the same delivery. On SQLite one process delivers:
the one holding an exclusive lock (``flock``) on the file ``<database>-deliverer.lock``
beside the database; the others try again every ``poll_interval`` and take over when it
exits, as the system releases the lock of a process that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of
from db.models import DeliveryStatus, OutboxEvent, Webhook, WebhookDelivery, utcnow
from resolvers.events.delivery import Attempt, Outcome, retry_delay, send
from resolvers.events.outbox import wakeup
from resolvers.events.schedule import fire_due
from resolvers.events.url_policy import UrlPolicy
from resolvers.global_ids import encode_global_id

__all__ = ["DeliveryOptions", "deliver_due", "run"]

logger = logging.getLogger("masthead.events")


@dataclass(frozen=True)
class DeliveryOptions:
    """How deliveries are made (``MASTHEAD_WEBHOOK_*`` settings)."""

    timeout: float = 10.0
    max_attempts: int = 8
    retry_base: float = 30.0
    poll_interval: float = 0.5
    batch: int = 20
    policy: UrlPolicy = field(default_factory=UrlPolicy)

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is held: past any attempt's deadline."""
        return timedelta(seconds=self.timeout * 2 + 5)


@dataclass(frozen=True)
class _Claimed:
    pk: int
    attempts: int
    attempt: Attempt


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], options: DeliveryOptions, now: datetime
) -> list[_Claimed]:
    due = (
        WebhookDelivery.status == DeliveryStatus.PENDING.value,
        WebhookDelivery.next_attempt_at <= now,
        Webhook.active.is_(True),
    )
    # A read first, so that an idle worker never takes SQLite's write lock.
    async with sessionmaker() as session:
        anything = await session.scalar(
            select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(*due)
            .limit(1)
        )
    if anything is None:
        return []
    async with sessionmaker.begin() as session:
        await database_of(session).begin_write(session)
        rows = (
            await session.execute(
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.attempts,
                    Webhook.url,
                    Webhook.secret,
                    OutboxEvent.event_id,
                    OutboxEvent.type,
                    OutboxEvent.body,
                )
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(*due)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(options.batch)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([row.id for row in rows]))
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + options.lease)
        )
    return [
        _Claimed(
            row.id,
            row.attempts + 1,
            Attempt(
                encode_global_id("WebhookDelivery", row.id),
                row.event_id,
                row.type,
                row.url,
                row.secret,
                row.body.encode(),
            ),
        )
        for row in rows
    ]


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    claimed: _Claimed,
    outcome: Outcome,
    options: DeliveryOptions,
    now: datetime,
) -> None:
    if outcome.delivered:
        values: dict[str, object] = {
            "status": DeliveryStatus.DELIVERED.value,
            "delivered_at": now,
            "next_attempt_at": None,
        }
    elif claimed.attempts >= options.max_attempts:
        values = {"status": DeliveryStatus.FAILED.value, "next_attempt_at": None}
    else:
        delay = retry_delay(claimed.attempts, base=options.retry_base)
        values = {"next_attempt_at": now + delay}
    async with sessionmaker.begin() as session:
        await database_of(session).begin_write(session)
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.pk,
                WebhookDelivery.attempts == claimed.attempts,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
            )
            .values(**values, response_status=outcome.response_status, error=outcome.error)
        )


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    options: DeliveryOptions,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """One round: send the deliveries due now; returns how many were attempted."""
    claimed = await _claim(sessionmaker, options, clock())

    async def one(item: _Claimed) -> None:
        timestamp = int(datetime.now(UTC).timestamp())
        outcome = await send(client, item.attempt, policy=options.policy, timestamp=timestamp)
        await _finish(sessionmaker, item, outcome, options, clock())

    await asyncio.gather(*(one(item) for item in claimed))
    return len(claimed)


def client(options: DeliveryOptions) -> httpx.AsyncClient:
    """The HTTP client deliveries go through: the attempt's deadline, no redirects."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(options.timeout), follow_redirects=False, trust_env=False
    )


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    options: DeliveryOptions,
    *,
    stop: asyncio.Event,
    database_url: str,
) -> None:
    """Deliver until ``stop`` is set; a failing round (the database away) is logged and
    tried again after a pause."""
    async with _delivering_turn(sessionmaker, database_url, options, stop) as turn:
        if not turn:
            return
        woken = wakeup()
        async with client(options) as http:
            while not stop.is_set():
                woken.clear()
                try:
                    fired = await fire_due(sessionmaker, now=utcnow())
                    done = fired + await deliver_due(sessionmaker, http, options)
                except Exception:  # the worker outlives any one failure
                    logger.exception("webhook delivery round failed")
                    done = 0
                if done == 0:
                    await _pause(stop, woken, options.poll_interval)


async def _pause(stop: asyncio.Event, woken: asyncio.Event, seconds: float) -> None:
    """Until stopped, woken by a commit of events in this process, or ``seconds`` passed."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(woken.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


@contextlib.asynccontextmanager
async def _delivering_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    options: DeliveryOptions,
    stop: asyncio.Event,
) -> AsyncIterator[bool]:
    """Yields True once this process may deliver (False: stopped before its turn came)."""
    engine = sessionmaker.kw["bind"]
    path = make_url(database_url).database
    if not database_of(engine).one_delivering_process or not path or path == ":memory:":
        yield True
        return
    descriptor = os.open(Path(f"{path}-deliverer.lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), options.poll_interval)
                if stop.is_set():
                    yield False
                    return
        yield True
    finally:
        os.close(descriptor)  # releases the lock
