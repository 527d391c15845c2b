"""Batch functions behind the per-request DataLoaders: one statement per batch of keys.

Each batch opens its own session, so loaders running concurrently never share one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of
from db.models import Article, ArticleTag, Author, Base, Category, Tag
from resolvers.access.viewer import Viewer
from resolvers.articles.reads import (
    ArticleFilter,
    ArticleOrder,
    ArticleScope,
    article_counts,
    article_pages,
)
from resolvers.articles.related_lists import kept_related_posts
from resolvers.articles.related_posts import Related
from resolvers.pagination import Page, PageRequest
from resolvers.read_sessions import ReadSessions
from resolvers.taxonomy import categories
from resolvers.taxonomy.lookups import name_order

__all__ = ["ArticleCountKey", "ArticlePageKey", "Batches"]

Model = TypeVar("Model", bound=Base)


@dataclass(frozen=True)
class ArticlePageKey:
    scope: ArticleScope
    scope_id: int
    order: ArticleOrder
    request: PageRequest
    article_filter: ArticleFilter | None = None


@dataclass(frozen=True)
class ArticleCountKey:
    scope: ArticleScope
    scope_id: int
    article_filter: ArticleFilter | None = None


class Batches:
    """The batch functions of one request: its viewer and clock are fixed for all of them.

    ``writes`` makes the sessions that store related lists computed on first read.
    """

    def __init__(
        self,
        reads: ReadSessions,
        *,
        writes: async_sessionmaker[AsyncSession],
        viewer: Viewer,
        now: datetime,
    ) -> None:
        self._reads = reads
        self._writes = writes
        self.viewer = viewer
        self.now = now

    async def _by_id(self, model: type[Model], ids: Sequence[int]) -> list[Model | None]:
        async def read(session: AsyncSession) -> dict[int, Model]:
            matching = database_of(session).any_of(model.id, ids)  # type: ignore[attr-defined]  # every model has an integer id
            rows = await session.scalars(select(model).where(matching))
            return {row.id: row for row in rows}  # type: ignore[attr-defined]

        found = await self._reads.run(read)
        return [found.get(i) for i in ids]

    async def authors(self, ids: Sequence[int]) -> list[Author | None]:
        return await self._by_id(Author, ids)

    async def categories(self, ids: Sequence[int]) -> list[Category | None]:
        return await self._by_id(Category, ids)

    async def tags_of_articles(self, article_ids: Sequence[int]) -> list[list[Tag]]:
        async def read(session: AsyncSession) -> dict[int, list[Tag]]:
            rows = await session.execute(
                select(ArticleTag.article_id, Tag)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(database_of(session).any_of(ArticleTag.article_id, article_ids))
                .order_by(*name_order(Tag))
            )
            grouped: dict[int, list[Tag]] = defaultdict(list)
            for article_id, tag in rows:
                grouped[article_id].append(tag)
            return grouped

        grouped = await self._reads.run(read)
        return [grouped[i] for i in article_ids]

    async def children(self, ids: Sequence[int]) -> list[list[Category]]:
        grouped = await self._reads.run(lambda session: categories.children(session, ids))
        return [grouped[i] for i in ids]

    async def ancestors(self, ids: Sequence[int]) -> list[list[Category]]:
        grouped = await self._reads.run(lambda session: categories.ancestors(session, ids))
        return [grouped[i] for i in ids]

    async def related_posts(self, keys: Sequence[tuple[int, int]]) -> list[list[Related]]:
        """Keyed by ``(article_id, first)``: the same statements per distinct ``first``."""

        async def read(session: AsyncSession) -> dict[tuple[int, int], list[Related]]:
            found: dict[tuple[int, int], list[Related]] = {}
            for first, group in groupby(sorted(set(keys), key=lambda k: k[1]), key=lambda k: k[1]):
                ids = [article_id for article_id, _ in group]
                ranked = await kept_related_posts(
                    session, self._writes, article_ids=ids, first=first, now=self.now
                )
                found.update(((i, first), ranked.get(i, [])) for i in ids)
            return found

        found = await self._reads.run(read)
        return [found[key] for key in keys]

    async def article_pages(self, keys: Sequence[ArticlePageKey]) -> list[Page[Article]]:
        """Keys that differ only by scope id share one statement."""

        async def read(session: AsyncSession) -> dict[ArticlePageKey, Page[Article]]:
            found: dict[ArticlePageKey, Page[Article]] = {}
            for shape, group in _by_shape(
                keys, lambda k: (k.scope, k.order, k.request, k.article_filter)
            ):
                scope, order, request, article_filter = shape
                pages = await article_pages(
                    session,
                    scope=scope,
                    scope_ids=[k.scope_id for k in group],
                    article_filter=article_filter,
                    order=order,
                    request=request,
                    viewer=self.viewer,
                    now=self.now,
                )
                found.update((k, pages[k.scope_id]) for k in group)
            return found

        found = await self._reads.run(read)
        return [found[key] for key in keys]

    async def article_counts(self, keys: Sequence[ArticleCountKey]) -> list[int]:
        async def read(session: AsyncSession) -> dict[ArticleCountKey, int]:
            found: dict[ArticleCountKey, int] = {}
            for shape, group in _by_shape(keys, lambda k: (k.scope, k.article_filter)):
                scope, article_filter = shape
                counts = await article_counts(
                    session,
                    scope=scope,
                    scope_ids=[k.scope_id for k in group],
                    article_filter=article_filter,
                    viewer=self.viewer,
                    now=self.now,
                )
                found.update((k, counts[k.scope_id]) for k in group)
            return found

        found = await self._reads.run(read)
        return [found[key] for key in keys]


Key = TypeVar("Key")


def _by_shape(keys: Sequence[Key], shape: Any) -> list[tuple[Any, list[Key]]]:
    """Group keys by everything but their scope id, keeping first-seen order."""
    groups: dict[Any, list[Key]] = {}
    for key in dict.fromkeys(keys):
        groups.setdefault(shape(key), []).append(key)
    return list(groups.items())
