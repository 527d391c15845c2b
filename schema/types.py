"""The GraphQL object types: nodes, connections and their fields (thin; logic is in resolvers/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar, cast

import strawberry
from sqlalchemy import Row as TableRow

from db import models
from resolvers.articles.reads import ArticleOrder as _Order
from resolvers.articles.reads import ArticleScope, sort_key
from resolvers.articles.related_posts import Related
from resolvers.articles.related_posts import RelatedReason as _Reason
from resolvers.articles.text_metrics import reading_time_minutes
from resolvers.cache_tags import CATEGORIES, NEWEST, article_list, node, related
from resolvers.errors import BadUserInput
from resolvers.global_ids import encode_global_id
from resolvers.loaders import ArticleCountKey, ArticlePageKey
from resolvers.pagination import Page, PageRequest
from schema.context import Context
from schema.listed_relations import ARTICLE, CONNECTION, load_listed_relations, loaded

__all__ = [
    "Article",
    "ArticleOrder",
    "ArticleStatus",
    "Author",
    "Category",
    "Connection",
    "Node",
    "PageInfo",
    "RelatedPost",
    "RelatedReason",
    "Tag",
    "connection",
]

Info = strawberry.Info[Context, None]
NodeT = TypeVar("NodeT")
Row = TypeVar("Row")

MAX_RELATED = 20


def utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; clients get them with the zone."""
    return value.replace(tzinfo=UTC) if value is not None else None


@strawberry.enum(description="How a list of articles is ordered.")
class ArticleOrder(Enum):
    NEWEST = strawberry.enum_value("NEWEST", description="Most recently published first.")
    OLDEST = strawberry.enum_value("OLDEST", description="Earliest published first.")
    TITLE = strawberry.enum_value("TITLE", description="By title, A to Z.")
    UPDATED = strawberry.enum_value("UPDATED", description="Most recently updated first.")
    RELEVANCE = strawberry.enum_value("RELEVANCE", description="Best match first (search only).")

    def resolved(self) -> _Order:
        return _Order[self.name]


@strawberry.enum(description="Where an article is in its life.")
class ArticleStatus(Enum):
    DRAFT = strawberry.enum_value("draft", description="Not published; visible to editors only.")
    PUBLISHED = strawberry.enum_value(
        "published", description="Published; public once `publishedAt` has passed."
    )


@strawberry.interface(description="An object with a global, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(description="Global, opaque id.")


@strawberry.type(description="Where a page stands in its list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item.")


def _edge_cursor(root: Edge[Any]) -> str:
    return root.page.cursor(root.row)


@strawberry.type(description="An item of a list with its cursor.")
class Edge(Generic[NodeT]):
    # Encoded when asked for: most pages show none, or only the last (``pageInfo``).
    cursor: str = strawberry.field(
        resolver=_edge_cursor, description="Opaque cursor to page on from this item."
    )
    node: NodeT = strawberry.field(description="The item.")
    page: strawberry.Private[Page[Any]]
    row: strawberry.Private[Any]


@strawberry.type(description="A page of a list, with Relay cursors.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The items, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items the whole list holds (all pages).")
    async def total_count(self) -> int:
        return await self.count_total()


def connection(
    page: Page[Row], convert: Callable[[Row], NodeT], count_total: Callable[[], Awaitable[int]]
) -> Connection[NodeT]:
    """A page of nodes; ``convert`` makes each (and says the answer shows it)."""
    rows = page.rows
    edges = [Edge(node=convert(row), page=page, row=row) for row in rows]
    info = PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.cursor(rows[0]) if rows else None,
        end_cursor=page.cursor(rows[-1]) if rows else None,
    )
    return Connection(edges=edges, page_info=info, count_total=count_total)


async def scoped_articles(
    info: Info,
    *,
    scope: ArticleScope,
    scope_id: int,
    order: _Order,
    request: PageRequest,
) -> Connection[Article]:
    """A nested article list, batched with its siblings through the page loader."""
    # Refuse bad arguments here, on this field: raised in the batch they would fail every
    # sibling list sharing it, and be reported at another field's path.
    request.window(sort_key(order))
    loaders = info.context.loaders
    page = await loaders.article_page.load(ArticlePageKey(scope, scope_id, order, request))
    info.context.shows(_list_tag(scope, scope_id))
    count_key = ArticleCountKey(scope, scope_id)
    found = connection(
        page, lambda row: Article.shown(info, row), lambda: loaders.article_count.load(count_key)
    )
    await load_listed_relations(info, [edge.node for edge in found.edges], CONNECTION)
    return found


def _list_tag(scope: ArticleScope, scope_id: int) -> str:
    """The cache tag of a category's, author's or tag's articles (``resolvers.cache_tags``):
    a category's own articles and its subtree's share one."""
    if scope is ArticleScope.AUTHOR:
        return article_list("Author", scope_id)
    if scope is ArticleScope.TAG:
        return article_list("Tag", scope_id)
    return article_list("Category", scope_id)


async def _count(info: Info, scope: ArticleScope, scope_id: int) -> int:
    info.context.shows(_list_tag(scope, scope_id))
    return await info.context.loaders.article_count.load(ArticleCountKey(scope, scope_id))


@strawberry.type(description="A person who writes articles.")
class Author(Node):
    pk: strawberry.Private[int]
    slug: str = strawberry.field(description="URL-safe unique name.")
    name: str = strawberry.field(description="Display name.")
    bio: str | None = strawberry.field(description="Short biography.")
    avatar_url: str | None = strawberry.field(description="Portrait image URL.")

    @classmethod
    def shown(cls, info: Info, row: models.Author | TableRow[Any]) -> Author:
        """The author, which the answer shows."""
        if info.context.answer_tags is not None:
            info.context.answer_tags.add(node("Author", row.id))
        return cls.from_row(row)

    @classmethod
    def from_row(cls, row: models.Author | TableRow[Any]) -> Author:
        return cls(
            id=strawberry.ID(encode_global_id("Author", row.id)),
            pk=row.id,
            slug=row.slug,
            name=row.name,
            bio=row.bio,
            avatar_url=row.avatar_url,
        )

    @strawberry.field(description="How many public articles this author has.")
    async def article_count(self, info: Info) -> int:
        return await _count(info, ArticleScope.AUTHOR, self.pk)

    @strawberry.field(description="This author's public articles, newest first.")
    async def articles(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size, 0..100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to start after.")
        ] = None,
    ) -> Connection[Article]:
        return await scoped_articles(
            info,
            scope=ArticleScope.AUTHOR,
            scope_id=self.pk,
            order=_Order.NEWEST,
            request=PageRequest(first=first, after=after),
        )


@strawberry.type(description="A keyword articles are tagged with.")
class Tag(Node):
    pk: strawberry.Private[int]
    slug: str = strawberry.field(description="URL-safe unique name.")
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def shown(cls, info: Info, row: models.Tag | TableRow[Any]) -> Tag:
        """The tag, which the answer shows."""
        if info.context.answer_tags is not None:
            info.context.answer_tags.add(node("Tag", row.id))
        return cls.from_row(row)

    @classmethod
    def from_row(cls, row: models.Tag | TableRow[Any]) -> Tag:
        return cls(
            id=strawberry.ID(encode_global_id("Tag", row.id)),
            pk=row.id,
            slug=row.slug,
            name=row.name,
        )

    @strawberry.field(description="How many public articles carry this tag.")
    async def article_count(self, info: Info) -> int:
        return await _count(info, ArticleScope.TAG, self.pk)

    @strawberry.field(description="Public articles with this tag, newest first.")
    async def articles(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size, 0..100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to start after.")
        ] = None,
    ) -> Connection[Article]:
        return await scoped_articles(
            info,
            scope=ArticleScope.TAG,
            scope_id=self.pk,
            order=_Order.NEWEST,
            request=PageRequest(first=first, after=after),
        )


@strawberry.type(description="A section of the site; categories form a tree.")
class Category(Node):
    pk: strawberry.Private[int]
    parent_pk: strawberry.Private[int | None]
    slug: str = strawberry.field(description="URL-safe unique name.")
    name: str = strawberry.field(description="Display name.")
    description: str | None = strawberry.field(description="What the category covers.")

    @classmethod
    def shown(cls, info: Info, row: models.Category | TableRow[Any]) -> Category:
        """The category, which the answer shows."""
        if info.context.answer_tags is not None:
            info.context.answer_tags.add(node("Category", row.id))
        return cls.from_row(row)

    @classmethod
    def from_row(cls, row: models.Category | TableRow[Any]) -> Category:
        return cls(
            id=strawberry.ID(encode_global_id("Category", row.id)),
            pk=row.id,
            parent_pk=row.parent_id,
            slug=row.slug,
            name=row.name,
            description=row.description,
        )

    @strawberry.field(description="The category above this one, if any.")
    async def parent(self, info: Info) -> Category | None:
        if self.parent_pk is None:
            return None
        row = await info.context.loaders.category_by_id.load(self.parent_pk)
        return Category.shown(info, row) if row else None

    @strawberry.field(
        description="The categories directly below this one, by name (case and accents ignored)."
    )
    async def children(self, info: Info) -> list[Category]:
        rows = await info.context.loaders.children_by_category_id.load(self.pk)
        info.context.shows(CATEGORIES)
        return [Category.shown(info, row) for row in rows]

    @strawberry.field(description="The categories above this one, root first (breadcrumbs).")
    async def ancestors(self, info: Info) -> list[Category]:
        info.context.shows(CATEGORIES)
        if self.parent_pk is None:
            return []
        rows = await info.context.loaders.ancestors_by_category_id.load(self.pk)
        return [Category.shown(info, row) for row in rows]

    @strawberry.field(
        description="How many public articles this category and its subcategories hold."
    )
    async def article_count(self, info: Info) -> int:
        return await _count(info, ArticleScope.CATEGORY_TREE, self.pk)

    @strawberry.field(description="Public articles of this category (and its subcategories).")
    async def articles(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size, 0..100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to start after.")
        ] = None,
        include_subcategories: Annotated[
            bool, strawberry.argument(description="Include the articles of subcategories.")
        ] = True,
        order_by: Annotated[
            ArticleOrder, strawberry.argument(description="Order.")
        ] = ArticleOrder.NEWEST,
    ) -> Connection[Article]:
        scope = ArticleScope.CATEGORY_TREE if include_subcategories else ArticleScope.CATEGORY
        return await scoped_articles(
            info,
            scope=scope,
            scope_id=self.pk,
            order=order_by.resolved(),
            request=PageRequest(first=first, after=after),
        )


@strawberry.type(description="A piece of content: a news story, a feature, a post.")
class Article(Node):
    pk: strawberry.Private[int]
    author_pk: strawberry.Private[int]
    category_pk: strawberry.Private[int]
    slug: str = strawberry.field(description="URL-safe unique name; former slugs keep resolving.")
    title: str = strawberry.field(description="Headline.")
    excerpt: str = strawberry.field(description="Plain-text summary.")
    body: str = strawberry.field(description="Sanitized HTML body.")
    status: ArticleStatus = strawberry.field(description="Draft or published.")
    published_at: datetime | None = strawberry.field(
        description="When it is (or will be) public; null for drafts."
    )
    stored_unpublish_at: strawberry.Private[datetime | None]
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    version: int = strawberry.field(description="Increments on every write.")
    word_count: int = strawberry.field(description="Words in the body's text.")

    @classmethod
    def shown(cls, info: Info, row: models.Article | TableRow[Any]) -> Article:
        """The article, which the answer shows."""
        if info.context.answer_tags is not None:
            info.context.answer_tags.add(node("Article", row.id))
        return cls.from_row(row)

    @classmethod
    def from_row(cls, row: models.Article | TableRow[Any]) -> Article:
        return cls(
            id=strawberry.ID(encode_global_id("Article", row.id)),
            pk=row.id,
            author_pk=row.author_id,
            category_pk=row.category_id,
            slug=row.slug,
            title=row.title,
            excerpt=row.excerpt,
            body=row.body,
            status=ArticleStatus(row.status),
            published_at=utc(row.published_at),
            stored_unpublish_at=utc(row.unpublish_at),
            created_at=row.created_at.replace(tzinfo=UTC),
            updated_at=row.updated_at.replace(tzinfo=UTC),
            version=row.version,
            word_count=row.word_count,
        )

    @strawberry.field(
        description="When a scheduled unpublish hides it (`unpublishArticle(at:)`); null when "
        "none is scheduled, and for readers without an editor or admin token."
    )
    def unpublish_at(self, info: Info) -> datetime | None:
        return self.stored_unpublish_at if info.context.viewer.can_see_drafts else None

    @strawberry.field(description="Minutes to read: words / 200, rounded up, at least 1.")
    def reading_time_minutes(self) -> int:
        return reading_time_minutes(self.word_count)

    # Loaded with the list this article is in, these answer at once; otherwise they load
    # (schema.listed_relations). Returning an awaitable from a plain function is how
    # graphql-core lets a field be either.
    @strawberry.field(description="Who wrote it.")
    def author(self, info: Info) -> Author:
        row = loaded(info.context.loaders.author_by_id, self.author_pk)
        if row is not None:
            return Author.shown(info, row)
        return cast(Author, self._load_author(info))

    async def _load_author(self, info: Info) -> Author:
        row = await info.context.loaders.author_by_id.load(self.author_pk)
        assert row is not None  # a foreign key guarantees it
        return Author.shown(info, row)

    @strawberry.field(description="The category it is filed in.")
    def category(self, info: Info) -> Category:
        row = loaded(info.context.loaders.category_by_id, self.category_pk)
        if row is not None:
            return Category.shown(info, row)
        return cast(Category, self._load_category(info))

    async def _load_category(self, info: Info) -> Category:
        row = await info.context.loaders.category_by_id.load(self.category_pk)
        assert row is not None  # a foreign key guarantees it
        return Category.shown(info, row)

    @strawberry.field(description="Its tags, by name (case and accents ignored).")
    async def tags(self, info: Info) -> list[Tag]:
        rows = await info.context.loaders.tags_by_article_id.load(self.pk)
        return [Tag.shown(info, row) for row in rows]

    @strawberry.field(
        description=(
            "Related public articles: editor pins first, then by shared tags and category, "
            "then the newest."
        )
    )
    async def related_posts(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 0..20.")] = 5,
    ) -> list[Article]:
        found = [Article.shown(info, r.article) for r in await self._related(info, first)]
        await load_listed_relations(info, found, ARTICLE)
        return found

    @strawberry.field(
        description=(
            "The articles of `relatedPosts`, in the same order, each with why it is there."
        )
    )
    async def related_posts_explained(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 0..20.")] = 5,
    ) -> list[RelatedPost]:
        found = [
            RelatedPost(
                article=Article.shown(info, r.article),
                reason=RelatedReason[r.reason.name],
                score=r.score,
                source_pk=self.pk,
            )
            for r in await self._related(info, first)
        ]
        await load_listed_relations(info, [post.article for post in found], ("article",))
        return found

    async def _related(self, info: Info, first: int) -> list[Related]:
        if not 0 <= first <= MAX_RELATED:
            raise BadUserInput(f"`first` must be between 0 and {MAX_RELATED}, got {first}.")
        found = await info.context.loaders.related_posts_by_article_id.load((self.pk, first))
        info.context.shows(related(self.pk))
        # Filled with the newest public articles, or short of them: a publication anywhere
        # may change it.
        if len(found) < first or any(r.reason is _Reason.NEWEST for r in found):
            info.context.shows(NEWEST)
        return found


@strawberry.enum(description="Why an article is in another's related posts.")
class RelatedReason(Enum):
    PINNED = strawberry.enum_value("PINNED", description="Pinned by an editor.")
    SHARED_TAGS = strawberry.enum_value(
        "SHARED_TAGS", description="Shares tags (and maybe the category): score 2 or more."
    )
    SAME_CATEGORY = strawberry.enum_value(
        "SAME_CATEGORY", description="Filed in the same category, no tag shared: score 1."
    )
    NEWEST = strawberry.enum_value("NEWEST", description="Among the newest, filling the list.")


@strawberry.type(description="A related article and why it is related.")
class RelatedPost:
    source_pk: strawberry.Private[int]
    article: Article = strawberry.field(description="The related article.")
    reason: RelatedReason = strawberry.field(description="Why it is in the list.")
    score: int = strawberry.field(
        description="2 x shared tags + 1 if in the same category; 0 when pinned or newest."
    )

    @strawberry.field(description="The tags it shares with the article, by name.")
    async def shared_tags(self, info: Info) -> list[Tag]:
        tags = info.context.loaders.tags_by_article_id
        own, its = await tags.load_many([self.source_pk, self.article.pk])
        own_ids = {row.id for row in own}
        return [Tag.shown(info, row) for row in its if row.id in own_ids]
