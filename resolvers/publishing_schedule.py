"""When public content next changes by itself, without a write: the next scheduled publish.

An anonymous answer computed at ``now`` stays right until a write or until that instant,
so HTTP caches may keep it until then and no longer (``masthead.http_caching``). A draft
with a future ``published_at`` changes nothing at that time (it needs a write to be
published), so only published articles scheduled for later count. Masthead schedules no
unpublishing (articles have no unpublish time): once one is stored, its future instants
belong here too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Article, ArticleStatus

__all__ = ["next_scheduled_change", "next_scheduled_change_query"]


def next_scheduled_change_query(*, after: datetime) -> ScalarSelect[datetime | None]:
    """:func:`next_scheduled_change` as a scalar subquery, to be read with other values."""
    return (
        select(Article.published_at)
        .where(Article.status == ArticleStatus.PUBLISHED.value, Article.published_at > after)
        .order_by(Article.published_at)
        .limit(1)
        .scalar_subquery()
    )


async def next_scheduled_change(session: AsyncSession, *, after: datetime) -> datetime | None:
    """The earliest instant later than ``after`` (naive UTC) at which an article becomes
    public by itself, or None when none is scheduled.

    One seek into ``ix_articles_status_published`` (status, published_at): the first entry
    past ``after`` among the published articles.
    """
    instant: datetime | None = await session.scalar(
        select(next_scheduled_change_query(after=after))
    )
    return instant
