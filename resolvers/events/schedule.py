"""Scheduled instants that fire events: a scheduled publish coming due, and a scheduled
unpublish.

Reads need nothing from here: ``Article.is_public`` already shows an article from its
``published_at`` and hides it from its ``unpublish_at``. What must happen at those instants
is the events (webhooks, and subscriptions' announcements), and the worker does it
(:func:`fire_due`, each round):

- a publish scheduled for later sets ``announce_at`` to its time (``publish_article``);
  once that has come, ``article.published`` is written to the outbox and ``announce_at``
  cleared, in one transaction; a worker that was not running fires it at its next start;
- an article past its ``unpublish_at`` is unpublished as ``unpublishArticle`` does (a draft,
  its version + 1, related lists kept), and ``article.unpublished`` written, in one
  transaction.

Due rows are taken ``FOR UPDATE SKIP LOCKED``, so with several workers each fires once (on
SQLite one process works, ``worker``). A write that moves or cancels the schedule (publish
again, unpublish, delete) changes the row first, and firing checks it is still due.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of
from db.models import Article, ArticleStatus, RelatedEntry
from resolvers.articles import related_lists
from resolvers.articles.announcements import Announcement, announce
from resolvers.cache_invalidations import record
from resolvers.cache_tags import ArticleState, after_article_write
from resolvers.events import outbox
from resolvers.events.types import EventType

__all__ = ["fire_due"]

_BATCH = 50


async def fire_due(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Fire what is due at ``now``; returns how many articles fired."""
    due = or_(Article.announce_at <= now, Article.unpublish_at <= now)
    # A read first, so that an idle worker never takes SQLite's write lock.
    async with sessionmaker() as session:
        if await session.scalar(select(Article.id).where(due).limit(1)) is None:
            return 0
    async with sessionmaker.begin() as session:
        await database_of(session).begin_write(session)
        await related_lists.keeping_lists(session)  # before any row lock
        articles = list(
            await session.scalars(
                select(Article)
                .where(due)
                .order_by(Article.id)
                .limit(_BATCH)
                .with_for_update(skip_locked=True),
                execution_options={"populate_existing": True},
            )
        )
        for article in articles:
            if article.unpublish_at is not None and article.unpublish_at <= now:
                await _unpublish(session, article, now)
            else:
                await _announce(session, article, now)
    return len(articles)


async def _announce(session: AsyncSession, article: Article, now: datetime) -> None:
    """Its scheduled publication has come: ``article.published``."""
    await session.execute(
        update(Article).where(Article.id == article.id).values(announce_at=None),
        execution_options={"synchronize_session": False},
    )
    state = ArticleState.of(article)
    if not state.public(now):
        return  # not public after all (a schedule moved past its announcement)
    # The kept lists held it while scheduled: those showing it now, and those pinning it.
    showing = set(
        await session.scalars(
            select(RelatedEntry.article_id).where(RelatedEntry.related_id == article.id)
        )
    )
    stale = await after_article_write(
        session, before=None, after=state, now=now, related_lists=showing
    )
    event = await outbox.article_event(
        session, article, event_type=EventType.ARTICLE_PUBLISHED, stale=stale, now=now
    )
    await record(session, stale, now=now)
    await outbox.write(session, event)
    await announce(session, Announcement(article.id, published=True))


async def _unpublish(session: AsyncSession, article: Article, now: datetime) -> None:
    """Past its scheduled unpublish: a draft, and ``article.unpublished``."""
    before = ArticleState.of(article)
    written = await session.scalar(
        update(Article)
        .where(Article.id == article.id)
        .values(
            status=ArticleStatus.DRAFT.value,
            published_at=None,
            unpublish_at=None,
            announce_at=None,
            version=Article.version + 1,
            updated_at=now,
        )
        .returning(Article),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    assert written is not None  # locked above
    related = await related_lists.refresh_candidate(session, written.id)
    # Hidden since its instant: what caches showed is what it was when last public.
    shown_until = dataclasses.replace(before, unpublish_at=None)
    stale = await after_article_write(
        session,
        before=shown_until,
        after=ArticleState.of(written),
        now=now,
        related_lists=related,
    )
    event = None
    if before.published_at is not None and before.published_at <= now:
        # It was public until now (one scheduled whose time never came was never seen).
        event = await outbox.article_event(
            session, written, event_type=EventType.ARTICLE_UNPUBLISHED, stale=stale, now=now
        )
    await record(session, stale, now=now)
    await outbox.write(session, event)
    await announce(session, Announcement(written.id, published=False))
