"""The Subscription root: articles as they are published or change, over WebSocket.

Each announcement (``resolvers.articles.announcements``) is checked against the subscriber
as if it had just asked: the article is read again as the subscriber sees it, at that
moment, with fresh loaders. So anonymous subscribers never see a draft, a scheduled article
reaches them at its instant, and a token given in ``connection_init`` sees what it may read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row

from db import models
from db.models import utcnow
from resolvers.articles.announcements import AnnouncementFeed
from resolvers.articles.reads import article_by_id
from resolvers.cache_tags import ArticleState
from resolvers.errors import BadUserInput
from resolvers.global_ids import decode_global_id
from resolvers.taxonomy import lookups
from schema.types import Article, Info

__all__ = ["Subscription"]


def _feed(info: Info) -> AnnouncementFeed:
    feed = info.context.announcements
    if feed is None:
        raise BadUserInput("Subscriptions are served over WebSocket at /graphql.")
    return feed


async def _current(info: Info, article_id: int) -> models.Article | Row[Any] | None:
    """The article as the subscriber sees it now, read afresh."""
    context = info.context
    context.renew(utcnow())
    return await context.read(
        lambda session: article_by_id(session, article_id, viewer=context.viewer, now=context.now)
    )


async def _in_subtree(info: Info, article: models.Article | Row[Any], category_id: int) -> bool:
    if article.category_id == category_id:
        return True
    ancestors = await info.context.loaders.ancestors_by_category_id.load(article.category_id)
    return any(ancestor.id == category_id for ancestor in ancestors)


@strawberry.type(description="Live updates, over WebSocket (graphql-transport-ws) at /graphql.")
class Subscription:
    @strawberry.subscription(
        description="Each article as it becomes public (published now, or its scheduled "
        "instant arrives); with `categorySlug`, only those in that category or below it."
    )
    async def article_published(
        self,
        info: Info,
        category_slug: Annotated[
            str | None, strawberry.argument(description="A category: its whole subtree.")
        ] = None,
    ) -> AsyncGenerator[Article, None]:
        feed = _feed(info)
        category_id = None
        if category_slug is not None:
            category = await info.context.read(
                lambda session: lookups.by_slug(session, models.Category, category_slug)
            )
            if category is None:
                raise BadUserInput(f"No category has the slug {category_slug!r}.")
            category_id = category.id
        async with feed.listen() as announcements:
            async for announcement in announcements:
                if not announcement.published:
                    continue
                article = await _current(info, announcement.article_id)
                if article is None or not ArticleState.of(article).public(info.context.now):
                    continue
                if category_id is not None and not await _in_subtree(info, article, category_id):
                    continue
                yield Article.shown(info, article)

    @strawberry.subscription(
        description="Each saved version of the article, as the subscriber may see it; null "
        "once it is gone for the subscriber (deleted, unpublished, or a draft it may not read)."
    )
    async def article_changed(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The article's global id.")],
    ) -> AsyncGenerator[Article | None, None]:
        feed = _feed(info)
        decoded = decode_global_id(id)
        if decoded is None or decoded[0] != "Article":
            raise BadUserInput("`id` is not the global id of an article.")
        article_id = decoded[1]
        async with feed.listen() as announcements:
            # The version the subscriber could see when it subscribed; 0: none (null).
            current = await _current(info, article_id)
            shown = current.version if current is not None else 0
            async for announcement in announcements:
                if announcement.article_id != article_id:
                    continue
                article = await _current(info, article_id)
                if article is None:
                    if shown != 0:
                        shown = 0
                        yield None
                    continue
                if article.version != shown:
                    shown = article.version
                    yield Article.shown(info, article)
