"""The demo content ``make serve`` loads into an empty database (SPEC "The two commands"): a
news site with a two-level category tree, drafts, scheduled articles and pinned related posts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, Author, Category, RelatedPin, Tag, utcnow
from masthead.corpus.demo import DEMO_ARTICLES, demo_records, load_demo
from tests.support.cli import masthead

Sessions = async_sessionmaker[AsyncSession]

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


async def _article_versions(sessionmaker: Sessions) -> dict[int, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Article.id, Article.version))
        return {article_id: version for article_id, version in rows}


async def test_demo_content_is_a_small_news_site(sessionmaker: Sessions) -> None:
    assert await load_demo(sessionmaker) is True

    now = utcnow()
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Author)) == 12
        assert await session.scalar(select(func.count()).select_from(Tag)) == 40
        categories = (await session.scalars(select(Category))).all()
        articles = (await session.scalars(select(Article))).all()
        pins = (await session.scalars(select(RelatedPin))).all()

    roots = {c.id for c in categories if c.parent_id is None}
    children = [c for c in categories if c.parent_id is not None]
    assert len(roots) == 6
    assert len(children) == 18
    assert all(child.parent_id in roots for child in children)

    assert len(articles) == DEMO_ARTICLES
    drafts = [a for a in articles if a.status == ArticleStatus.DRAFT.value]
    scheduled = [a for a in articles if a.published_at is not None and a.published_at > now]
    assert 3 <= len(drafts) <= 12
    assert all(draft.published_at is None for draft in drafts)
    assert 3 <= len(scheduled) <= 12
    assert all(a.status == ArticleStatus.PUBLISHED.value for a in scheduled)
    assert all(a.published_at <= now + timedelta(days=31) for a in scheduled if a.published_at)
    public = [a for a in articles if a not in drafts and a not in scheduled]
    assert all(a.published_at and a.published_at > now - timedelta(days=400) for a in public)
    assert {a.category_id for a in articles} & roots, "some articles sit on a section itself"
    assert {a.category_id for a in articles} - roots, "most sit in a subsection"

    assert len({pin.article_id for pin in pins}) >= 10
    assert all(pin.related_id < pin.article_id for pin in pins)
    assert all(a.word_count > 50 and a.excerpt and a.body.startswith("<p>") for a in articles)
    assert len({a.slug for a in articles}) == DEMO_ARTICLES


async def test_demo_loads_only_into_an_empty_database_when_asked(sessionmaker: Sessions) -> None:
    assert await load_demo(sessionmaker, if_empty=True) is True
    versions = await _article_versions(sessionmaker)

    assert await load_demo(sessionmaker, if_empty=True) is False
    # Loading again the same day is a no-op: the import is idempotent by key.
    assert await load_demo(sessionmaker) is True
    assert await _article_versions(sessionmaker) == versions


def test_demo_records_are_the_same_every_time() -> None:
    today = datetime(2030, 6, 1)
    records = list(demo_records(today))
    assert records == list(demo_records(today))
    assert all(SLUG.fullmatch(record["slug"]) for record in records)
    keys = [record["key"] for record in records]
    assert len(keys) == len(set(keys))


async def test_the_demo_command(database_url: str, sessionmaker: Sessions) -> None:
    first = masthead("demo", "--if-empty", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "demo content loaded" in first.stderr

    again = masthead("demo", "--if-empty", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert "not loaded" in again.stderr
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == DEMO_ARTICLES
