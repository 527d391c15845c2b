"""The typed per-request context: sessions, DataLoaders, the viewer and the request's clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from db.models import Category, utcnow
from resolvers.access.viewer import Viewer
from resolvers.articles.announcements import AnnouncementFeed
from resolvers.articles.related_posts import Related
from resolvers.cache_tags import AnswerTags
from resolvers.loaders import ArticleCountKey, ArticlePageKey, Batches
from resolvers.pagination import Page
from resolvers.read_sessions import ReadSessions

__all__ = ["Allowance", "Budget", "Context", "Loaders"]

T = TypeVar("T")


class Loaders:
    """DataLoaders built per request, so nothing cached outlives it or crosses viewers."""

    def __init__(self, batches: Batches) -> None:
        # Rows as the tables hold them (``Batches._by_id``), read like the models. Typed by
        # annotation: ``DataLoader[...](...)`` builds the generic alias on every request.
        self.author_by_id: DataLoader[int, Row[Any] | None] = DataLoader(batches.authors)
        self.category_by_id: DataLoader[int, Row[Any] | None] = DataLoader(batches.categories)
        self.tags_by_article_id: DataLoader[int, list[Row[Any]]] = DataLoader(
            batches.tags_of_articles
        )
        self.children_by_category_id: DataLoader[int, list[Category]] = DataLoader(batches.children)
        self.ancestors_by_category_id: DataLoader[int, list[Category]] = DataLoader(
            batches.ancestors
        )
        self.related_posts_by_article_id: DataLoader[tuple[int, int], list[Related]] = DataLoader(
            batches.related_posts
        )
        self.article_page: DataLoader[ArticlePageKey, Page[Row[Any]]] = DataLoader(
            batches.article_pages
        )
        self.article_count: DataLoader[ArticleCountKey, int] = DataLoader(batches.article_counts)


@dataclass(frozen=True)
class Allowance:
    """What a rate-limit budget said to one operation's cost."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class Budget(Protocol):
    """A client's rate-limit budget (``masthead.rate_limits``), spent by cost."""

    async def spend(self, cost: int) -> Allowance: ...


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    sessionmaker: async_sessionmaker[AsyncSession]
    viewer: Viewer
    now: datetime
    loaders: Loaders
    reads: ReadSessions
    budget: Budget | None = None
    # The cache tags of an answer that may be shared (an anonymous GET's), as fields show
    # nodes and lists (``resolvers.cache_tags``); None when nobody will keep the answer.
    answer_tags: AnswerTags | None = None
    # Announcements of article writes, for subscriptions (WebSocket requests only).
    announcements: AnnouncementFeed | None = None
    # A WebSocket's ``connection_init`` payload (Strawberry sets it).
    connection_params: dict[str, object] | None = None

    def shows(self, tag: str) -> None:
        """The answer shows the node or list of ``tag``."""
        if self.answer_tags is not None:
            self.answer_tags.add(tag)

    def renew(self, now: datetime) -> None:
        """Fresh loaders and clock, after a write the rest of the operation must see."""
        self.now = now
        self.loaders = Loaders(
            Batches(self.reads, writes=self.sessionmaker, viewer=self.viewer, now=now)
        )

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a read session of its own (see ``ReadSessions``)."""
        return await self.reads.run(work)

    @classmethod
    def build(
        cls,
        *,
        request: Request | WebSocket,
        response: Response | WebSocket | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        viewer: Viewer,
        budget: Budget | None = None,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        announcements: AnnouncementFeed | None = None,
    ) -> Context:
        """``read_sessionmaker`` makes the sessions of reads (``db.engine``), by default
        ``sessionmaker``, which writes use."""
        now = utcnow()
        reads = ReadSessions(read_sessionmaker or sessionmaker)
        loaders = Loaders(Batches(reads, writes=sessionmaker, viewer=viewer, now=now))
        return cls(
            request,
            response,
            sessionmaker,
            viewer,
            now,
            loaders,
            reads,
            budget,
            announcements=announcements,
        )
