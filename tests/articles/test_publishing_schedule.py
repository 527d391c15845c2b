"""The next scheduled publish: the instant public content changes without a write."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, utcnow
from resolvers.publishing_schedule import next_scheduled_change
from tests.support.factories import make_article, make_author, make_category
from tests.support.plans import plan, sent

Sessions = async_sessionmaker[AsyncSession]


async def _next(sessionmaker: Sessions, after: datetime | None = None) -> datetime | None:
    async with sessionmaker() as session:
        return await next_scheduled_change(session, after=after or utcnow())


async def test_the_earliest_scheduled_publish_after_now(sessionmaker: Sessions) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    assert await _next(sessionmaker) is None
    now = utcnow()
    await make_article(sessionmaker, author=author, category=category, days_ago=1)
    # A draft dated later is published by a write, not by the clock.
    await make_article(
        sessionmaker,
        author=author,
        category=category,
        status=ArticleStatus.DRAFT,
        published_at=now + timedelta(minutes=1),
    )
    assert await _next(sessionmaker) is None
    later = now + timedelta(hours=3)
    sooner = now + timedelta(minutes=10)
    for when in (later, sooner):
        await make_article(sessionmaker, author=author, category=category, published_at=when)
    assert await _next(sessionmaker, now) == sooner
    # Strictly after: at its instant an article is public already.
    assert await _next(sessionmaker, sooner) == later
    assert await _next(sessionmaker, later) is None


async def test_it_is_one_seek_into_the_status_and_publish_time_index(
    sessionmaker: Sessions, engine: AsyncEngine, dialect: str
) -> None:
    with sent(engine, "published_at >") as statements:
        await _next(sessionmaker)
    [(statement, parameters)] = statements
    steps = await plan(engine, dialect, statement, parameters)
    assert "ix_articles_status_published" in steps, steps
    if dialect == "sqlite":
        assert "TEMP B-TREE" not in steps, steps  # read in index order, nothing sorted
    else:
        assert "Sort" not in steps, steps


async def test_a_scheduled_unpublish_is_a_scheduled_change_too(sessionmaker: Sessions) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    now = utcnow()
    expiring = await make_article(sessionmaker, author=author, category=category, days_ago=1)
    later = now + timedelta(hours=3)
    await make_article(sessionmaker, author=author, category=category, published_at=later)
    sooner = now + timedelta(minutes=5)
    async with sessionmaker.begin() as session:
        row = await session.get(Article, expiring.id)
        assert row is not None
        row.unpublish_at = sooner
    assert await _next(sessionmaker, now) == sooner
    assert await _next(sessionmaker, sooner) == later
    async with sessionmaker.begin() as session:
        row = await session.get(Article, expiring.id)
        assert row is not None
        row.unpublish_at = now + timedelta(days=1)
    assert await _next(sessionmaker, now) == later
    assert await _next(sessionmaker, later) == now + timedelta(days=1)
