"""The Query root: thin fields that open a session and call resolvers/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from sqlalchemy import Row

from db import models
from resolvers.articles.reads import ArticleScope, article_by_id, article_by_slug, article_pages
from resolvers.cache_tags import ARTICLES, AUTHORS, CATEGORIES, TAGS, NodeType, missing
from resolvers.errors import BadUserInput
from resolvers.events import webhooks
from resolvers.global_ids import decode_global_id
from resolvers.loaders import ArticleCountKey
from resolvers.pagination import PageRequest
from resolvers.taxonomy import lookups as listings
from schema.inputs import ArticleFilter
from schema.listed_relations import CONNECTION, load_listed_relations
from schema.types import (
    Article,
    ArticleOrder,
    Author,
    Category,
    Connection,
    Info,
    Node,
    Tag,
    connection,
)
from schema.webhooks import Webhook as WebhookNode
from schema.webhooks import WebhookDelivery as DeliveryNode

__all__ = ["Query"]

Named = TypeVar("Named", models.Author, models.Category, models.Tag)
NodeT = TypeVar("NodeT")
Found = TypeVar("Found")

_ID = Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")]
_SLUG = Annotated[str | None, strawberry.argument(description="Slug.")]
_FIRST = Annotated[int | None, strawberry.argument(description="Page size from the start, 0..100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
_LAST = Annotated[int | None, strawberry.argument(description="Page size from the end, 0..100.")]
_BEFORE = Annotated[str | None, strawberry.argument(description="Cursor to end before.")]


def _pk(global_id: str, type_name: str) -> int | None:
    decoded = decode_global_id(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


def _id_or_slug(id: strawberry.ID | None, slug: str | None) -> None:
    if id is not None and slug is not None:
        raise BadUserInput("Pass `id` or `slug`, not both.")
    if id is None and slug is None:
        raise BadUserInput("Pass `id` or `slug`.")


def _found(info: Info, type_name: NodeType, found: Found | None) -> Found | None:
    """A lookup's answer; one that found nothing may find something after a write."""
    if found is None:
        info.context.shows(missing(type_name))
    return found


async def _named(
    info: Info, model: type[Named], type_name: str, id: strawberry.ID | None, slug: str | None
) -> Named | Row[Any] | None:
    _id_or_slug(id, slug)
    if id is not None:
        pk = _pk(id, type_name)
        if pk is None:
            return None
    if slug is not None:
        return await info.context.read(lambda session: listings.by_slug(session, model, slug))
    return await info.context.read(lambda session: session.get(model, pk))


async def _article(info: Info, pk: int) -> Article | None:
    context = info.context
    row = await context.read(
        lambda session: article_by_id(session, pk, viewer=context.viewer, now=context.now)
    )
    return _found(info, "Article", Article.shown(info, row) if row else None)


async def _admin_node(info: Info, type_name: str, pk: int) -> Node | None:
    """A webhook or a delivery: admins see them, anyone else null (never cached: a token)."""
    viewer = info.context.viewer
    if type_name == "Webhook":
        hook = await info.context.read(lambda session: webhooks.webhook_node(session, viewer, pk))
        return WebhookNode.from_row(hook) if hook is not None else None
    row = await info.context.read(lambda session: webhooks.delivery_node(session, viewer, pk))
    return DeliveryNode.from_row(row) if row is not None else None


@strawberry.type(
    description="Everything a reader can ask for; anonymous readers see public articles."
)
class Query:
    @strawberry.field(description="Any object by its global id; null when unknown or not visible.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id.")],
    ) -> Node | None:
        decoded = decode_global_id(id)
        if decoded is None:
            return None
        type_name, pk = decoded
        if type_name == "Article":
            return await _article(info, pk)
        if type_name == "Author":
            author = await info.context.loaders.author_by_id.load(pk)
            return _found(info, "Author", Author.shown(info, author) if author else None)
        if type_name == "Category":
            category = await info.context.loaders.category_by_id.load(pk)
            return _found(info, "Category", Category.shown(info, category) if category else None)
        if type_name == "Tag":
            tag = await info.context.read(lambda session: session.get(models.Tag, pk))
            return _found(info, "Tag", Tag.shown(info, tag) if tag else None)
        if type_name in ("Webhook", "WebhookDelivery"):
            return await _admin_node(info, type_name, pk)
        return None

    @strawberry.field(description="One article by id or slug (former slugs too); null if unknown.")
    async def article(self, info: Info, id: _ID = None, slug: _SLUG = None) -> Article | None:
        _id_or_slug(id, slug)
        if id is not None:
            pk = _pk(id, "Article")
            return await _article(info, pk) if pk is not None else None
        assert slug is not None
        context = info.context
        row = await context.read(
            lambda session: article_by_slug(session, slug, viewer=context.viewer, now=context.now)
        )
        return _found(info, "Article", Article.shown(info, row) if row else None)

    @strawberry.field(description="Articles, filtered and ordered, a page at a time.")
    async def articles(
        self,
        info: Info,
        first: _FIRST = None,
        after: _AFTER = None,
        last: _LAST = None,
        before: _BEFORE = None,
        filter: Annotated[
            ArticleFilter | None, strawberry.argument(description="Conditions to meet.")
        ] = None,
        order_by: Annotated[
            ArticleOrder, strawberry.argument(description="Order.")
        ] = ArticleOrder.NEWEST,
    ) -> Connection[Article]:
        article_filter = filter.resolved() if filter is not None else None
        context = info.context
        pages = await context.read(
            lambda session: article_pages(
                session,
                scope=ArticleScope.ALL,
                scope_ids=[0],
                article_filter=article_filter,
                order=order_by.resolved(),
                request=PageRequest(first=first, after=after, last=last, before=before),
                viewer=context.viewer,
                now=context.now,
            )
        )
        count_key = ArticleCountKey(ArticleScope.ALL, 0, article_filter)
        context.shows(ARTICLES)
        found = connection(
            pages[0],
            lambda row: Article.shown(info, row),
            lambda: context.loaders.article_count.load(count_key),
        )
        await load_listed_relations(info, [edge.node for edge in found.edges], CONNECTION)
        return found

    @strawberry.field(description="One category by id or slug; null if unknown.")
    async def category(self, info: Info, id: _ID = None, slug: _SLUG = None) -> Category | None:
        row = await _named(info, models.Category, "Category", id, slug)
        return _found(info, "Category", Category.shown(info, row) if row else None)

    @strawberry.field(
        description="All categories by name (case and accents ignored), or only the top-level ones."
    )
    async def categories(
        self,
        info: Info,
        roots_only: Annotated[
            bool, strawberry.argument(description="Only categories without a parent.")
        ] = False,
    ) -> list[Category]:
        rows = await info.context.read(
            lambda session: listings.categories(session, roots_only=roots_only)
        )
        info.context.shows(CATEGORIES)
        return [Category.shown(info, row) for row in rows]

    @strawberry.field(description="One author by id or slug; null if unknown.")
    async def author(self, info: Info, id: _ID = None, slug: _SLUG = None) -> Author | None:
        row = await _named(info, models.Author, "Author", id, slug)
        return _found(info, "Author", Author.shown(info, row) if row else None)

    @strawberry.field(description="Authors by name (case and accents ignored), a page at a time.")
    async def authors(
        self, info: Info, first: _FIRST = 20, after: _AFTER = None
    ) -> Connection[Author]:
        info.context.shows(AUTHORS)
        return await _name_connection(
            info, models.Author, lambda row: Author.shown(info, row), first, after
        )

    @strawberry.field(description="One tag by id or slug; null if unknown.")
    async def tag(self, info: Info, id: _ID = None, slug: _SLUG = None) -> Tag | None:
        row = await _named(info, models.Tag, "Tag", id, slug)
        return _found(info, "Tag", Tag.shown(info, row) if row else None)

    @strawberry.field(description="Tags by name (case and accents ignored), a page at a time.")
    async def tags(self, info: Info, first: _FIRST = 20, after: _AFTER = None) -> Connection[Tag]:
        info.context.shows(TAGS)
        return await _name_connection(
            info, models.Tag, lambda row: Tag.shown(info, row), first, after
        )


async def _name_connection(
    info: Info,
    model: type[Named],
    convert: Callable[[Named], NodeT],
    first: int | None,
    after: str | None,
) -> Connection[NodeT]:
    context = info.context
    request = PageRequest(first=first, after=after)
    page = await context.read(lambda session: listings.name_page(session, model, request))
    return connection(
        page, convert, lambda: context.read(lambda session: listings.count(session, model))
    )
