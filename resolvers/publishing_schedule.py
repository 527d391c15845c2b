"""When public content next changes by itself, without a write: the next scheduled publish
or unpublish.

An anonymous answer computed at ``now`` stays right until a write or until that instant,
so HTTP caches may keep it until then and no longer (``masthead.http_caching``). A draft
with a future ``published_at`` changes nothing at that time (it needs a write to be
published), so only published articles scheduled for later count, and the future
``unpublish_at`` of published articles (``unpublishArticle(at:)``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Article, ArticleStatus

__all__ = ["next_scheduled_change", "next_scheduled_change_query"]


def next_scheduled_change_query(*, after: datetime) -> ScalarSelect[datetime | None]:
    """:func:`next_scheduled_change` as a scalar subquery, to be read with other values."""
    published = Article.status == ArticleStatus.PUBLISHED.value
    publish = (
        select(Article.published_at)
        .where(published, Article.published_at > after)
        .order_by(Article.published_at)
        .limit(1)
        .scalar_subquery()
    )
    # Only a published article has an unpublish_at (writes clear it with the publication).
    unpublish = (
        select(Article.unpublish_at)
        .where(Article.unpublish_at > after)
        .order_by(Article.unpublish_at)
        .limit(1)
        .scalar_subquery()
    )
    # The earlier of the two, either of which may be null: min() over two rows reads the
    # same on both databases (PostgreSQL has no two-argument min, SQLite no LEAST).
    instants = union_all(select(publish.label("at")), select(unpublish.label("at"))).subquery(
        "instants"
    )
    return select(func.min(instants.c.at)).scalar_subquery()


async def next_scheduled_change(session: AsyncSession, *, after: datetime) -> datetime | None:
    """The earliest instant later than ``after`` (naive UTC) at which an article becomes
    public, or stops being public, by itself; None when none is scheduled.

    Two seeks: into ``ix_articles_status_published`` (status, published_at), the first
    entry past ``after`` among the published articles, and into ``ix_articles_unpublish_at``
    (the few articles with an unpublish scheduled).
    """
    instant: datetime | None = await session.scalar(
        select(next_scheduled_change_query(after=after))
    )
    return instant
