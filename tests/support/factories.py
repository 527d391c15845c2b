"""Small factories that write rows straight into the database under test.

Written behind the API's back, as ``masthead import`` writes, each also records that every
cached answer is stale (``all``), in its transaction: tests that read, write here, and read
again see what they wrote.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, ArticleTag, Author, Category, RelatedPin, Tag, utcnow
from resolvers.cache_invalidations import record
from resolvers.cache_tags import Staleness

_serial = itertools.count(1)


def _next() -> int:
    return next(_serial)


async def _behind_the_api(session: AsyncSession) -> None:
    await record(session, Staleness.everything(), now=utcnow())


async def make_author(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    name: str | None = None,
    slug: str | None = None,
) -> Author:
    n = _next()
    author = Author(
        name=name or f"Author {n}",
        slug=slug or f"author-{n}",
        bio=f"Bio {n}",
        avatar_url=f"https://example.org/a{n}.png",
    )
    async with sessionmaker.begin() as session:
        session.add(author)
        await _behind_the_api(session)
    return author


async def make_category(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    name: str | None = None,
    slug: str | None = None,
    parent: Category | None = None,
) -> Category:
    n = _next()
    category = Category(
        name=name or f"Category {n}",
        slug=slug or f"category-{n}",
        description=f"About category {n}",
        parent_id=parent.id if parent else None,
    )
    async with sessionmaker.begin() as session:
        session.add(category)
        await _behind_the_api(session)
    return category


async def make_tag(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    name: str | None = None,
    slug: str | None = None,
) -> Tag:
    n = _next()
    tag = Tag(name=name or f"tag {n}", slug=slug or f"tag-{n}")
    async with sessionmaker.begin() as session:
        session.add(tag)
        await _behind_the_api(session)
    return tag


async def make_article(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    author: Author,
    category: Category,
    tags: Sequence[Tag] = (),
    title: str | None = None,
    slug: str | None = None,
    body: str = "<p>Some words of body text.</p>",
    status: ArticleStatus = ArticleStatus.PUBLISHED,
    published_at: datetime | None = None,
    days_ago: float | None = None,
    updated_at: datetime | None = None,
) -> Article:
    """A public article by default; ``days_ago`` sets ``published_at`` relative to now."""
    n = _next()
    now = utcnow()
    if published_at is None and status is ArticleStatus.PUBLISHED:
        published_at = now - timedelta(days=days_ago if days_ago is not None else n / 1000)
    article = Article(
        title=title or f"Article {n}",
        slug=slug or f"article-{n}",
        excerpt=f"Excerpt {n}",
        body=body,
        status=status.value,
        published_at=published_at,
        created_at=now,
        updated_at=updated_at or published_at or now,
        word_count=len(body.split()),
        author_id=author.id,
        category_id=category.id,
    )
    async with sessionmaker.begin() as session:
        session.add(article)
        await session.flush()
        session.add_all(ArticleTag(article_id=article.id, tag_id=tag.id) for tag in tags)
        await _behind_the_api(session)
    return article


async def pin_related(
    sessionmaker: async_sessionmaker[AsyncSession], article: Article, related: Sequence[Article]
) -> None:
    async with sessionmaker.begin() as session:
        session.add_all(
            RelatedPin(article_id=article.id, position=i, related_id=r.id)
            for i, r in enumerate(related)
        )
        await _behind_the_api(session)
