"""Errors (SPEC "Reading", "Limits and failure"): every error carries ``extensions.code``; what the
caller caused is explained, anything unexpected is masked, and none of it is a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Author, Category
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data, error_codes, graphql
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]

NESTED_PAGE_SIZES = """
query NestedPageSizes($good: Int, $bad: Int) {
  authors {
    nodes {
      slug
      good: articles(first: $good) { nodes { slug } }
      bad: articles(first: $bad) { nodes { slug } }
    }
  }
}
"""

CATEGORY_ORDER = """
query CategoryOrder($slug: String!, $orderBy: ArticleOrder!) {
  category(slug: $slug) {
    slug
    newest: articles { nodes { slug } }
    ordered: articles(orderBy: $orderBy) { nodes { slug } }
  }
}
"""

RELATED_TOO_MANY = """
query RelatedTooMany($slug: String!) {
  article(slug: $slug) { slug relatedPosts(first: 21) { slug } }
}
"""

TWO_ROOTS = """
query TwoRoots($after: String) {
  tags { totalCount }
  articles(after: $after) { totalCount }
}
"""

TAGS_AND_AUTHORS = """
query TagsAndAuthors { tags { nodes { slug } totalCount } authors { totalCount } }
"""

SLUG_LOOKUPS = """
query SlugLookups($slug: String!) {
  article(slug: $slug) { slug }
  category(slug: $slug) { slug }
  author(slug: $slug) { slug }
  tag(slug: $slug) { slug }
  byCategory: articles(filter: {categorySlug: $slug}) { totalCount }
  byAuthor: articles(filter: {authorSlug: $slug}) { totalCount }
  byTag: articles(filter: {tagSlugs: [$slug]}) { totalCount }
}
"""

_INTERNALS = ("Traceback", "SELECT", "sqlalchemy", "asyncpg", "sqlite", "tags_gone", "File ")


def _assert_no_internals(body: dict[str, Any]) -> None:
    dumped = json.dumps(body)
    for internal in _INTERNALS:
        assert internal not in dumped, body


@pytest.fixture
async def author(sessionmaker: Sessions) -> Author:
    return await make_author(sessionmaker)


@pytest.fixture
async def category(sessionmaker: Sessions) -> Category:
    return await make_category(sessionmaker, slug="news")


async def test_an_error_in_one_nested_field_leaves_its_siblings_alone(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    article = await make_article(sessionmaker, author=author, category=category)
    body = await graphql(client, NESTED_PAGE_SIZES, {"good": 1, "bad": 101})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert "`first` must be between 0 and 100" in error["message"]
    assert error["path"] == ["authors", "nodes", 0, "bad"]
    # Non-null all the way up, so ``data`` is null; but the error is ``bad``'s alone.
    assert body["data"] is None
    _assert_no_internals(body)
    ok = await data(client, NESTED_PAGE_SIZES, {"good": 1, "bad": 0})
    assert ok["authors"]["nodes"] == [
        {"slug": author.slug, "good": {"nodes": [{"slug": article.slug}]}, "bad": {"nodes": []}}
    ]


async def test_relevance_on_a_category_is_refused_on_that_field(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await make_article(sessionmaker, author=author, category=category)
    body = await graphql(client, CATEGORY_ORDER, {"slug": "news", "orderBy": "RELEVANCE"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["category", "ordered"]
    assert "search" in body["errors"][0]["message"]
    assert body["data"] == {"category": None}
    _assert_no_internals(body)


async def test_related_posts_beyond_twenty_is_refused(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    article = await make_article(sessionmaker, author=author, category=category)
    body = await graphql(client, RELATED_TOO_MANY, {"slug": article.slug})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["article", "relatedPosts"]
    assert "between 0 and 20" in body["errors"][0]["message"]
    assert body["data"] == {"article": None}


async def test_a_failing_root_field_does_not_take_the_others_with_it(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await make_tag(sessionmaker)
    body = await graphql(client, TWO_ROOTS, {"after": "garbage"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["articles"]
    # ``articles`` is non-null, so the whole ``data`` is null: nothing partial leaks out.
    assert body["data"] is None


@pytest.mark.parametrize("slug", ["a" * 5000, "ünïcødé", "' OR 1=1 --", "%", "_", "\\"])
async def test_odd_slugs_find_nothing(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category, slug: str
) -> None:
    await make_article(sessionmaker, author=author, category=category)
    body = await graphql(client, SLUG_LOOKUPS, {"slug": slug})
    assert "errors" not in body
    assert body["data"] == {
        "article": None,
        "category": None,
        "author": None,
        "tag": None,
        "byCategory": {"totalCount": 0},
        "byAuthor": {"totalCount": 0},
        "byTag": {"totalCount": 0},
    }


@pytest.mark.parametrize("slug", ["nul\x00slug", "\x00", "lone \ud800 surrogate", "\udfff"])
async def test_unstorable_text_is_bad_user_input_before_any_sql(
    client: httpx.AsyncClient, statements: StatementCounter, slug: str
) -> None:
    statements.reset()
    body = await graphql(client, SLUG_LOOKUPS, {"slug": slug}, escaped=True)
    errors = body["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"]
    assert "not text that can be stored" in errors[0]["message"]
    assert statements.count == 0


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ articles { nope } }", {}),
        ('{ articles(first: "ten") { totalCount } }', {}),
        ("query($n: Int) { articles(first: $n) { totalCount } }", {"n": "ten"}),
        ("{ articles(orderBy: SIDEWAYS) { totalCount } }", {}),
        ("{ article(slug: ) { slug } }", {}),
        ("{ node { id } }", {}),
    ],
)
async def test_invalid_documents_are_explained(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code < 500
    body = response.json()
    assert body.get("data") is None
    assert body["errors"] and all(error["message"] for error in body["errors"])
    assert all(
        code in ("GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED") for code in error_codes(body)
    )
    _assert_no_internals(body)


@pytest.fixture
async def tags_table_gone(sessionmaker: Sessions, author: Author) -> AsyncIterator[None]:
    """The ``tags`` table renamed away for the test: every query on it fails in the database."""
    await make_tag(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(text("ALTER TABLE tags RENAME TO tags_gone"))
    try:
        yield
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(text("ALTER TABLE tags_gone RENAME TO tags"))


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, tags_table_gone: None, caplog: pytest.LogCaptureFixture
) -> None:
    body = await graphql(client, TAGS_AND_AUTHORS)
    assert body["errors"]
    for error in body["errors"]:
        assert error["message"] == "Internal error."
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert body["data"] is None
    _assert_no_internals(body)
    # The server log keeps what the response hides.
    assert "tags" in caplog.text


async def test_invalid_documents_carry_a_code(client: httpx.AsyncClient) -> None:
    body = await graphql(client, "{ articles { nope } }")
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await graphql(client, "{ articles { ")
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]
