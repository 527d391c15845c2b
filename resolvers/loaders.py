"""Batch functions behind the per-request DataLoaders: one statement per batch of keys.

Batches share the read session of their tick (:class:`ReadSessions`).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, TypeVar

from sqlalchemy import Row, Select, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import Database, database_of
from db.models import ArticleTag, Author, Category, Tag
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

    async def _by_id(self, table: Table, ids: Sequence[int]) -> list[Row[Any] | None]:
        """Rows as the table holds them, not ORM objects: they are only read, and an
        identity map, a state per object and a statement built per call cost twice the
        statement's own CPU (``bench/results/per_request.md``)."""

        async def read(session: AsyncSession) -> dict[int, Row[Any]]:
            database = database_of(session)
            connection = await session.connection()
            rows = await database.kept_rows(
                connection, database.rows_by_id(table), {"ids": list(ids)}
            )
            return {row.id: row for row in rows}

        found = await self._reads.run(read)
        return [found.get(i) for i in ids]

    async def authors(self, ids: Sequence[int]) -> list[Row[Any] | None]:
        return await self._by_id(Author.__table__, ids)  # type: ignore[arg-type]  # a mapped table

    async def categories(self, ids: Sequence[int]) -> list[Row[Any] | None]:
        return await self._by_id(Category.__table__, ids)  # type: ignore[arg-type]  # a mapped table

    async def tags_of_articles(self, article_ids: Sequence[int]) -> list[list[Row[Any]]]:
        """Rows of the tags table (with the ``article_id`` they were found for)."""

        async def read(session: AsyncSession) -> dict[int, list[Row[Any]]]:
            database = database_of(session)
            connection = await session.connection()
            rows = await database.kept_rows(
                connection, _tags_of_articles(database), {"ids": list(article_ids)}
            )
            grouped: dict[int, list[Row[Any]]] = defaultdict(list)
            for row in rows:
                grouped[row.article_id].append(row)
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

    async def article_pages(self, keys: Sequence[ArticlePageKey]) -> list[Page[Row[Any]]]:
        """Keys that differ only by scope id share one statement."""

        async def read(session: AsyncSession) -> dict[ArticlePageKey, Page[Row[Any]]]:
            found: dict[ArticlePageKey, Page[Row[Any]]] = {}
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


@functools.cache
def _tags_of_articles(database: Database) -> Select[Any]:
    tags = Tag.__table__
    return (
        select(ArticleTag.article_id, *tags.c)
        .join(tags, tags.c.id == ArticleTag.tag_id)
        .where(database.any_of_parameter(ArticleTag.article_id, "ids"))
        .order_by(*name_order(Tag))
    )


Key = TypeVar("Key")


def _by_shape(keys: Sequence[Key], shape: Any) -> list[tuple[Any, list[Key]]]:
    """Group keys by everything but their scope id, keeping first-seen order."""
    groups: dict[Any, list[Key]] = {}
    for key in dict.fromkeys(keys):
        groups.setdefault(shape(key), []).append(key)
    return list(groups.items())
