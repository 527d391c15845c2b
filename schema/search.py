"""The ``search`` root field and its connection: articles with a score and highlights."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import strawberry

from resolvers.cache_tags import SEARCH
from resolvers.search import SearchText, search_count, search_highlights, search_page
from schema.inputs import ArticleFilter
from schema.listed_relations import CONNECTION, load_listed_relations
from schema.types import Article, Info, PageInfo

__all__ = ["SearchConnection", "SearchEdge", "SearchQuery"]


class _PageHighlights:
    """The highlights of one page, fetched in one statement when the first edge asks."""

    def __init__(self, load: Callable[[], Awaitable[dict[int, list[str]]]]) -> None:
        self._load = load
        self._lock = asyncio.Lock()
        self._found: dict[int, list[str]] | None = None

    async def of(self, article_id: int) -> list[str]:
        async with self._lock:
            if self._found is None:
                self._found = await self._load()
        return self._found.get(article_id, [])


@strawberry.type(description="A search result: an article, how well it matched, and where.")
class SearchEdge:
    cursor: str = strawberry.field(description="Opaque cursor to page on from this result.")
    node: Article = strawberry.field(description="The matching article.")
    score: float = strawberry.field(
        description=(
            "Relevance, from 0 to 2: 1 or more when the title holds every word; within "
            "each tier the database's own relevance. Comparable within one search only."
        )
    )
    page_highlights: strawberry.Private[_PageHighlights]

    @strawberry.field(
        description=(
            "Short fragments of the title, excerpt and body around the matches, as HTML: "
            "matched words wrapped in `<mark>`, everything else escaped."
        )
    )
    async def highlights(self) -> list[str]:
        return await self.page_highlights.of(self.node.pk)


@strawberry.type(description="A page of search results, best match first, with Relay cursors.")
class SearchConnection:
    edges: list[SearchEdge] = strawberry.field(description="The results with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The matching articles, without cursors or scores.")
    def nodes(self) -> list[Article]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description=(
            "How many results paging reaches: every match of a search matching at most 500 "
            "articles, else its ranked candidates (at most 600)."
        )
    )
    async def total_count(self) -> int:
        return await self.count_total()


@strawberry.type(description="Full-text search over the articles a reader may see.")
class SearchQuery:
    @strawberry.field(
        description=(
            "Articles whose title, excerpt or body contain every word of `query` (stemmed, "
            "regardless of case and accents), best match first (titles holding every word "
            "first), newest first among equal scores. The query is plain text: quotes, "
            "operators and punctuation are never syntax, punctuation inside a word splits "
            "it, and English stop words (the, of, and) are dropped. A search matching more "
            "than 500 articles ranks its newest 500 matches and its newest 100 title "
            "matches, so its cost stays flat as the corpus grows; fewer matches are all "
            "ranked. Every page comes from the same ranked set."
        )
    )
    async def search(
        self,
        info: Info,
        query: Annotated[
            str, strawberry.argument(description="The words to find; must not be empty.")
        ],
        first: Annotated[int | None, strawberry.argument(description="Page size, 0..100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to start after.")
        ] = None,
        filter: Annotated[
            ArticleFilter | None, strawberry.argument(description="Conditions to meet.")
        ] = None,
    ) -> SearchConnection:
        text = SearchText.parse(query)
        article_filter = filter.resolved() if filter is not None else None
        context = info.context
        page = await context.read(
            lambda session: search_page(
                session,
                text=text,
                article_filter=article_filter,
                first=first,
                after=after,
                viewer=context.viewer,
                now=context.now,
            )
        )

        article_ids: Sequence[int] = [hit.article.id for hit in page.hits]

        async def highlights() -> dict[int, list[str]]:
            return await context.read(
                lambda session: search_highlights(session, text=text, article_ids=article_ids)
            )

        async def total() -> int:
            if page.total is not None:
                return page.total
            return await context.read(
                lambda session: search_count(
                    session,
                    text=text,
                    article_filter=article_filter,
                    viewer=context.viewer,
                    now=context.now,
                )
            )

        context.shows(SEARCH)
        shared = _PageHighlights(highlights)
        edges = [
            SearchEdge(
                cursor=hit.cursor,
                node=Article.shown(info, hit.article),
                score=hit.score,
                page_highlights=shared,
            )
            for hit in page.hits
        ]
        await load_listed_relations(info, [edge.node for edge in edges], CONNECTION)
        page_info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return SearchConnection(edges=edges, page_info=page_info, count_total=total)
