"""What an article write tells live subscribers (GraphQL subscriptions), once it commits.

A write names the article it changed, and whether the article became public with it; the
announcement goes out with the write's commit and never without it (``Database.notify``:
PostgreSQL's NOTIFY, delivered to every listening process; on SQLite, to the listeners of
the committing process, and through Redis to the others). An announcement carries no
content: each subscriber reads the article again, as itself, so what it is sent follows
the visibility rules at that moment, whoever wrote.

An article scheduled for later becomes public, or one scheduled to be unpublished goes,
without a write: the event worker announces those when it fires them
(``resolvers.events.schedule``), in the transaction that writes their events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from db.dialects import database_of

__all__ = [
    "CHANNEL",
    "Announcement",
    "AnnouncementFeed",
    "announce",
    "decode",
    "encode",
]

CHANNEL = "masthead_articles"


@dataclass(frozen=True)
class Announcement:
    """The article ``article_id`` was written (or deleted); ``published``: it became
    public then, by a write or at its scheduled instant."""

    article_id: int
    published: bool


class AnnouncementFeed(Protocol):
    """Announcements as they come, to one subscriber (``masthead.live_updates``)."""

    def listen(self) -> AbstractAsyncContextManager[AsyncIterator[Announcement]]: ...


def encode(announcements: Sequence[Announcement]) -> str:
    return json.dumps([[a.article_id, int(a.published)] for a in announcements])


def decode(payload: str) -> list[Announcement]:
    """The announcements of ``payload``; anything else on the channel is ignored."""
    try:
        items = json.loads(payload)
        return [Announcement(int(article_id), bool(published)) for article_id, published in items]
    except (ValueError, TypeError):
        return []


async def announce(session: AsyncSession, announcement: Announcement) -> None:
    """Announce ``announcement`` when the session's transaction commits."""
    await database_of(session).notify(session, CHANNEL, encode([announcement]))
