"""No N+1: the SQL statements an operation costs do not grow with the page size."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleTag, Category, RelatedPin, utcnow
from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME
from tests.support.factories import make_author, make_category, make_tag
from tests.support.graphql import data
from tests.support.statements import StatementCounter

ARTICLES_WITH_RELATIONS = """
query Wide($first: Int!) {
  articles(first: $first) {
    nodes {
      slug
      author { name }
      category { name parent { name } }
      tags { name }
      relatedPosts(first: 5) { slug author { name } }
    }
  }
}
"""

NESTED_LISTS = """
query Nested($first: Int!) {
  authors(first: $first) {
    nodes {
      name
      articleCount
      articles(first: 3) { totalCount nodes { slug category { name } } }
    }
  }
  categories {
    slug
    articleCount
    ancestors { slug }
    children { slug }
    articles(first: 2) { nodes { slug } }
  }
}
"""


async def _seed(
    sessionmaker: async_sessionmaker[AsyncSession], articles: int = 120
) -> list[Article]:
    """Many authors, a two-level tree, tags and pins, so every relation has rows to load."""
    authors = [await make_author(sessionmaker) for _ in range(12)]
    roots = [await make_category(sessionmaker) for _ in range(3)]
    leaves: list[Category] = [
        await make_category(sessionmaker, parent=root) for root in roots for _ in range(2)
    ]
    tags = [await make_tag(sessionmaker) for _ in range(8)]
    now = utcnow().replace(microsecond=0)
    async with sessionmaker.begin() as session:
        rows = [
            Article(
                title=f"Story {i}",
                slug=f"story-{i}",
                excerpt="",
                body="<p>words</p>",
                status="published",
                published_at=now - timedelta(hours=i + 1),
                author_id=authors[i % len(authors)].id,
                category_id=(leaves + roots)[i % (len(leaves) + len(roots))].id,
                word_count=1,
            )
            for i in range(articles)
        ]
        session.add_all(rows)
        await session.flush()
        session.add_all(
            ArticleTag(article_id=row.id, tag_id=tags[(i + k) % len(tags)].id)
            for i, row in enumerate(rows)
            for k in range(i % 3)
        )
        session.add_all(
            RelatedPin(article_id=row.id, position=0, related_id=rows[i + 1].id)
            for i, row in enumerate(rows[:-1])
            if i % 7 == 0
        )
    return rows


async def _count(
    client: httpx.AsyncClient,
    statements: StatementCounter,
    query: str,
    variables: dict[str, object],
) -> int:
    statements.reset()
    await data(client, query, variables)
    return statements.count


@pytest.fixture
async def seeded(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[Article]:
    rows = await _seed(sessionmaker)
    await data(client, "{ __typename }")  # the first connection's setup is not the operation's
    return rows


async def test_reference_operations_cost_fixed_statements(
    client: httpx.AsyncClient, statements: StatementCounter, seeded: list[Article]
) -> None:
    assert await _count(client, statements, HOME, {}) == 3  # page, authors, categories
    # article, author, category, tags, kept related list, related articles, their authors
    article: dict[str, object] = {"slug": seeded[3].slug}
    # First view: the list is computed and kept (write lock, sources, the length of its
    # posting lists, ranking, two inserts).
    assert await _count(client, statements, ARTICLE_PAGE, article) == 7 + 6
    assert await _count(client, statements, ARTICLE_PAGE, article) == 7
    body = await data(client, "{ categories(rootsOnly: true) { slug } }")
    category_slug = body["categories"][0]["slug"]
    # category, its articles (subtree), their authors
    assert await _count(client, statements, CATEGORY_PAGE, {"slug": category_slug}) == 3


HOME_IN_FRAGMENTS = """
query HomeInFragments {
  articles(first: 20) {
    edges { node { ...Card } }
    pageInfo { endCursor hasNextPage }
  }
}
fragment Card on Article {
  title slug excerpt publishedAt
  ... on Article { writer: author { name slug } }
  category { ...Named }
}
fragment Named on Category { name slug }
"""


async def test_a_list_loads_the_relations_its_document_asks_for(
    client: httpx.AsyncClient, statements: StatementCounter, seeded: list[Article]
) -> None:
    # Looked ahead through fragments and aliases: the same two batches as Home's.
    assert await _count(client, statements, HOME_IN_FRAGMENTS, {}) == 3
    spelled = (await data(client, HOME_IN_FRAGMENTS))["articles"]
    home = (await data(client, HOME))["articles"]
    assert spelled["pageInfo"] == home["pageInfo"]
    for ours, theirs in zip(spelled["edges"], home["edges"], strict=True):
        node = dict(ours["node"])
        node["author"] = node.pop("writer")
        assert node == theirs["node"]
    # Nothing asked of the articles' relations: nothing loaded.
    titles = "{ articles(first: 20) { nodes { title } } }"
    assert await _count(client, statements, titles, {}) == 1
    authors_only = "{ articles(first: 20) { nodes { title author { name } } } }"
    assert await _count(client, statements, authors_only, {}) == 2


async def test_wide_article_list_costs_the_same_at_any_page_size(
    client: httpx.AsyncClient, statements: StatementCounter, seeded: list[Article]
) -> None:
    # First views compute the related lists of the page (95 of the 100 on the second).
    small_first = await _count(client, statements, ARTICLES_WITH_RELATIONS, {"first": 5})
    large_first = await _count(client, statements, ARTICLES_WITH_RELATIONS, {"first": 100})
    small = await _count(client, statements, ARTICLES_WITH_RELATIONS, {"first": 5})
    large = await _count(client, statements, ARTICLES_WITH_RELATIONS, {"first": 100})
    body = await data(client, ARTICLES_WITH_RELATIONS, {"first": 100})
    assert len(body["articles"]["nodes"]) == 100
    assert all(len(node["relatedPosts"]) == 5 for node in body["articles"]["nodes"])
    # Later ticks may find authors and categories already loaded: never more, though.
    assert large <= small == 8
    # A list is computed once per article, in a transaction of its own: at most six
    # statements each (write lock, source, posting-list length, ranking, two inserts).
    assert small < small_first <= small + 6 * 5
    assert large < large_first <= large + 6 * 95


async def test_nested_lists_are_batched(
    client: httpx.AsyncClient, statements: StatementCounter, seeded: list[Article]
) -> None:
    small = await _count(client, statements, NESTED_LISTS, {"first": 2})
    large = await _count(client, statements, NESTED_LISTS, {"first": 12})
    body = await data(client, NESTED_LISTS, {"first": 12})
    authors = body["authors"]["nodes"]
    assert len(authors) == 12
    assert sum(author["articleCount"] for author in authors) == len(seeded)
    assert all(len(author["articles"]["nodes"]) == 3 for author in authors)
    assert large <= small == 9
