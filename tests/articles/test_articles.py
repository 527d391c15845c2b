"""``articles`` and ``article`` end to end (SPEC "Reading"): orders, filters, Relay paging,
keyset cursors, limits and visibility, on both databases through the real app."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleSlug, ArticleStatus, Author, Category, Tag, utcnow
from resolvers.global_ids import encode_global_id
from tests.support.factories import make_article, make_author, make_category, make_tag, pin_related
from tests.support.graphql import data, error_codes, graphql

Sessions = async_sessionmaker[AsyncSession]

ARTICLES = """
query Articles(
  $first: Int, $after: String, $last: Int, $before: String,
  $filter: ArticleFilter, $orderBy: ArticleOrder
) {
  articles(
    first: $first, after: $after, last: $last, before: $before,
    filter: $filter, orderBy: $orderBy
  ) {
    edges { cursor node { slug } }
    nodes { slug }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}
"""

ARTICLE_BY_SLUG = """
query ArticleBySlug($slug: String!) { article(slug: $slug) { id slug title } }
"""

ARTICLE_BY_ID = """
query ArticleById($id: ID!) { article(id: $id) { id slug } }
"""

ARTICLE_BY_ID_AND_SLUG = """
query ArticleByIdAndSlug($id: ID, $slug: String) { article(id: $id, slug: $slug) { slug } }
"""

ARTICLE_FIELDS = """
query ArticleFields($slug: String!) {
  article(slug: $slug) {
    id slug title excerpt body status publishedAt createdAt updatedAt version
    wordCount readingTimeMinutes
    author { slug name }
    category { slug name }
    tags { slug name }
  }
}
"""

AUTHORS_PAGE = """
query AuthorsPage { authors(first: 1) { edges { cursor } } }
"""

AUTHORS_AFTER = """
query AuthorsAfter($after: String) { authors(first: 1, after: $after) { nodes { slug } } }
"""

EVERYWHERE = """
query Everywhere($slug: String!, $category: String!, $author: String!, $tag: String!) {
  articles(first: 100) { nodes { slug } totalCount }
  oldest: articles(first: 100, orderBy: OLDEST) { nodes { slug } totalCount }
  byTitle: articles(last: 100, orderBy: TITLE) { nodes { slug } totalCount }
  updated: articles(first: 100, orderBy: UPDATED) { nodes { slug } totalCount }
  filtered: articles(first: 100, filter: {categorySlug: $category, tagSlugs: [$tag]}) {
    nodes { slug } totalCount
  }
  article(slug: $slug) {
    slug
    relatedPosts(first: 20) { slug }
  }
  category(slug: $category) {
    articleCount
    articles(first: 100) { nodes { slug } totalCount }
    exact: articles(first: 100, includeSubcategories: false) { nodes { slug } totalCount }
  }
  author(slug: $author) { articleCount articles(first: 100) { nodes { slug } totalCount } }
  tag(slug: $tag) { articleCount articles(first: 100) { nodes { slug } totalCount } }
  categories { articleCount articles(first: 100) { nodes { slug } totalCount } }
  authors { nodes { articleCount articles(first: 100) { nodes { slug } totalCount } } }
  tags { nodes { articleCount articles(first: 100) { nodes { slug } totalCount } } }
}
"""


async def _page(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    """One page of ``articles``, checked for what must hold of every page."""
    given = {name: value for name, value in variables.items() if value is not None}
    connection: dict[str, Any] = (await data(client, ARTICLES, given))["articles"]
    edges = connection["edges"]
    assert connection["nodes"] == [edge["node"] for edge in edges]
    info = connection["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
    assert len({edge["cursor"] for edge in edges}) == len(edges)
    return connection


def _slugs(connection: dict[str, Any]) -> list[str]:
    return [node["slug"] for node in connection["nodes"]]


def _ordered(
    articles: Sequence[Article], key: Callable[[Article], Any], *, descending: bool
) -> list[str]:
    return [a.slug for a in sorted(articles, key=key, reverse=descending)]


def _by_published(article: Article) -> tuple[Any, int]:
    return article.published_at, article.id


def _iso(moment: datetime, *, zone: timezone = UTC) -> str:
    """A stored (naive UTC) time as a client writes it, in ``zone``."""
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()


def _forged_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _assert_client_error(body: dict[str, Any], code: str, *, contains: str) -> str:
    """One error with ``code``, a readable message and nothing of the internals."""
    assert error_codes(body) == [code], body
    message: str = body["errors"][0]["message"]
    assert contains in message
    for internal in ("Traceback", "SELECT", "sqlalchemy", "asyncpg", "sqlite"):
        assert internal not in json.dumps(body)
    assert body["errors"][0]["extensions"] == {"code": code}
    return message


@dataclass
class Corpus:
    """Seven public articles with ties in every order, plus a draft and a scheduled one."""

    public: list[Article]
    hidden: list[Article]
    author: Author
    category: Category

    def expected(self, order: str) -> list[str]:
        if order == "NEWEST":
            return _ordered(self.public, _by_published, descending=True)
        if order == "OLDEST":
            return _ordered(self.public, _by_published, descending=False)
        if order == "TITLE":
            return _ordered(self.public, lambda a: (a.title, a.id), descending=False)
        assert order == "UPDATED"
        return _ordered(self.public, lambda a: (a.updated_at, a.id), descending=True)


@pytest.fixture
async def corpus(sessionmaker: Sessions) -> Corpus:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    base = utcnow().replace(microsecond=0) - timedelta(days=30)
    # (title, days after base published, days after base updated): ties in each order.
    shapes = [
        ("Delta", 1, 20),
        ("Alpha", 2, 3),
        ("Echo", 2, 9),
        ("Delta", 5, 20),
        ("Charlie", 7, 8),
        ("Bravo", 9, 2),
        ("Golf", 12, 25),
    ]
    public = [
        await make_article(
            sessionmaker,
            author=author,
            category=category,
            title=title,
            published_at=base + timedelta(days=published),
            updated_at=base + timedelta(days=updated),
        )
        for title, published, updated in shapes
    ]
    hidden = [
        await make_article(
            sessionmaker,
            author=author,
            category=category,
            title="Aaa draft",
            status=ArticleStatus.DRAFT,
        ),
        await make_article(
            sessionmaker,
            author=author,
            category=category,
            title="Aaa scheduled",
            published_at=utcnow() + timedelta(minutes=5),
        ),
    ]
    return Corpus(public, hidden, author, category)


async def _walk_forward(client: httpx.AsyncClient, size: int, **variables: Any) -> list[str]:
    slugs: list[str] = []
    after: str | None = None
    while True:
        page = await _page(client, first=size, after=after, **variables)
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        slugs += _slugs(page)
        if not info["hasNextPage"]:
            assert len(page["nodes"]) <= size
            return slugs
        assert len(page["nodes"]) == size
        after = info["endCursor"]


async def _walk_backward(client: httpx.AsyncClient, size: int, **variables: Any) -> list[str]:
    """From the end to the start with ``last``/``before``; the slugs in list order."""
    pages: list[list[str]] = []
    before: str | None = None
    while True:
        page = await _page(client, last=size, before=before, **variables)
        info = page["pageInfo"]
        assert info["hasNextPage"] is (before is not None)
        pages.append(_slugs(page))
        if not info["hasPreviousPage"]:
            assert len(page["nodes"]) <= size
            return [slug for chunk in reversed(pages) for slug in chunk]
        assert len(page["nodes"]) == size
        before = info["startCursor"]


# -- the default page, orders, paging -------------------------------------------------------


async def test_default_page_is_the_newest_twenty(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    articles = [
        await make_article(sessionmaker, author=author, category=category, days_ago=day)
        for day in range(1, 24)
    ]
    page = await _page(client)
    assert _slugs(page) == [a.slug for a in articles[:20]]
    assert page["totalCount"] == 23
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    rest = await _page(client, after=page["pageInfo"]["endCursor"])
    assert _slugs(rest) == [a.slug for a in articles[20:]]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


@pytest.mark.parametrize("order", ["NEWEST", "OLDEST", "TITLE", "UPDATED"])
async def test_every_order(client: httpx.AsyncClient, corpus: Corpus, order: str) -> None:
    page = await _page(client, first=100, orderBy=order)
    assert _slugs(page) == corpus.expected(order)
    assert page["totalCount"] == len(corpus.public)
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is False


async def test_newest_is_the_default_order(client: httpx.AsyncClient, corpus: Corpus) -> None:
    assert _slugs(await _page(client, first=100)) == corpus.expected("NEWEST")


async def test_relevance_is_for_search_only(client: httpx.AsyncClient, corpus: Corpus) -> None:
    body = await graphql(client, ARTICLES, {"orderBy": "RELEVANCE"})
    assert body["data"] is None
    _assert_client_error(body, "BAD_USER_INPUT", contains="search")


@pytest.mark.parametrize("order", ["NEWEST", "OLDEST", "TITLE", "UPDATED"])
@pytest.mark.parametrize("size", [1, 3, 7])
async def test_forward_paging_walks_the_whole_list(
    client: httpx.AsyncClient, corpus: Corpus, order: str, size: int
) -> None:
    assert await _walk_forward(client, size, orderBy=order) == corpus.expected(order)


@pytest.mark.parametrize("order", ["NEWEST", "OLDEST", "TITLE", "UPDATED"])
@pytest.mark.parametrize("size", [1, 3, 7])
async def test_backward_paging_walks_the_list_in_reverse(
    client: httpx.AsyncClient, corpus: Corpus, order: str, size: int
) -> None:
    assert await _walk_backward(client, size, orderBy=order) == corpus.expected(order)


async def test_last_alone_is_the_last_n(client: httpx.AsyncClient, corpus: Corpus) -> None:
    expected = corpus.expected("NEWEST")
    page = await _page(client, last=3)
    assert _slugs(page) == expected[-3:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["totalCount"] == len(expected)
    everything = await _page(client, last=100)
    assert _slugs(everything) == expected
    assert everything["pageInfo"]["hasPreviousPage"] is False


async def test_cursors_bound_a_page_on_both_sides(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    expected = corpus.expected("TITLE")
    edges = (await _page(client, first=100, orderBy="TITLE"))["edges"]
    between = await _page(
        client, orderBy="TITLE", after=edges[1]["cursor"], before=edges[5]["cursor"]
    )
    assert _slugs(between) == expected[2:5]
    backward = await _page(
        client, orderBy="TITLE", last=2, after=edges[1]["cursor"], before=edges[5]["cursor"]
    )
    assert _slugs(backward) == expected[3:5]
    assert backward["pageInfo"]["hasPreviousPage"] is True


async def test_paging_past_either_end_is_empty(client: httpx.AsyncClient, corpus: Corpus) -> None:
    edges = (await _page(client, first=100))["edges"]
    after_last = await _page(client, first=5, after=edges[-1]["cursor"])
    assert after_last["edges"] == []
    assert after_last["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }
    before_first = await _page(client, last=5, before=edges[0]["cursor"])
    assert before_first["edges"] == []
    assert before_first["pageInfo"]["hasPreviousPage"] is False
    assert before_first["pageInfo"]["hasNextPage"] is True


async def test_edge_cursors_page_on_from_their_edge(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    expected = corpus.expected("UPDATED")
    edges = (await _page(client, first=100, orderBy="UPDATED"))["edges"]
    for i, edge in enumerate(edges):
        after = await _page(client, first=100, orderBy="UPDATED", after=edge["cursor"])
        assert _slugs(after) == expected[i + 1 :]
        before = await _page(client, last=100, orderBy="UPDATED", before=edge["cursor"])
        assert _slugs(before) == expected[:i]


# -- keyset cursors under inserts and deletes ----------------------------------------------


async def test_cursors_keep_their_place_when_articles_are_inserted(
    client: httpx.AsyncClient, sessionmaker: Sessions, corpus: Corpus
) -> None:
    expected = corpus.expected("NEWEST")
    first = await _page(client, first=3)
    last = await _page(client, last=3)
    for days_ago in (0.001, 0.002, 400, 500):  # two newer than all, two older than all
        await make_article(
            sessionmaker, author=corpus.author, category=corpus.category, days_ago=days_ago
        )
    forward = await _page(client, first=3, after=first["pageInfo"]["endCursor"])
    assert _slugs(forward) == expected[3:6]
    backward = await _page(client, last=3, before=last["pageInfo"]["startCursor"])
    assert _slugs(backward) == expected[-6:-3]
    assert forward["totalCount"] == len(expected) + 4


async def test_cursors_keep_their_place_when_their_article_is_deleted(
    client: httpx.AsyncClient, sessionmaker: Sessions, corpus: Corpus
) -> None:
    expected = corpus.expected("TITLE")
    edges = (await _page(client, first=100, orderBy="TITLE"))["edges"]
    gone = {expected[2], expected[4]}
    async with sessionmaker.begin() as session:
        await session.execute(delete(Article).where(Article.slug.in_(gone)))
    remaining = [slug for slug in expected if slug not in gone]
    forward = await _page(client, first=2, orderBy="TITLE", after=edges[2]["cursor"])
    assert _slugs(forward) == [expected[3], expected[5]]
    backward = await _page(client, last=100, orderBy="TITLE", before=edges[4]["cursor"])
    assert _slugs(backward) == [expected[0], expected[1], expected[3]]
    assert await _walk_forward(client, 2, orderBy="TITLE") == remaining


async def test_cursors_keep_their_place_when_the_article_before_them_is_deleted(
    client: httpx.AsyncClient, sessionmaker: Sessions, corpus: Corpus
) -> None:
    expected = corpus.expected("NEWEST")
    first = await _page(client, first=3)
    async with sessionmaker.begin() as session:
        await session.execute(delete(Article).where(Article.slug == expected[0]))
    assert (
        _slugs(await _page(client, first=3, after=first["pageInfo"]["endCursor"])) == expected[3:6]
    )


# -- filters --------------------------------------------------------------------------------


@dataclass
class Newsroom:
    """A three-level category tree, two authors, three tags; hidden articles match everything."""

    articles: dict[str, Article]
    categories: dict[str, Category]
    authors: dict[str, Author]
    tags: dict[str, Tag]


@pytest.fixture
async def newsroom(sessionmaker: Sessions) -> Newsroom:
    world = await make_category(sessionmaker, slug="world")
    europe = await make_category(sessionmaker, slug="europe", parent=world)
    france = await make_category(sessionmaker, slug="france", parent=europe)
    sport = await make_category(sessionmaker, slug="sport")
    ada = await make_author(sessionmaker, slug="ada")
    bob = await make_author(sessionmaker, slug="bob")
    tag_a = await make_tag(sessionmaker, slug="a")
    tag_b = await make_tag(sessionmaker, slug="b")
    tag_c = await make_tag(sessionmaker, slug="c")
    base = utcnow().replace(microsecond=0) - timedelta(days=10)
    shapes: dict[str, tuple[Category, Author, list[Tag]]] = {
        "a1": (world, ada, [tag_a, tag_b]),
        "a2": (europe, bob, [tag_a]),
        "a3": (france, ada, [tag_a, tag_b, tag_c]),
        "a4": (sport, bob, [tag_b]),
        "a5": (sport, ada, []),
    }
    articles = {
        slug: await make_article(
            sessionmaker,
            author=author,
            category=category,
            tags=tags,
            slug=slug,
            published_at=base + timedelta(days=i),
        )
        for i, (slug, (category, author, tags)) in enumerate(shapes.items(), start=1)
    }
    everything = [tag_a, tag_b, tag_c]
    articles["draft"] = await make_article(
        sessionmaker,
        author=ada,
        category=france,
        tags=everything,
        slug="draft",
        status=ArticleStatus.DRAFT,
    )
    articles["scheduled"] = await make_article(
        sessionmaker,
        author=bob,
        category=europe,
        tags=everything,
        slug="scheduled",
        published_at=utcnow() + timedelta(seconds=30),
    )
    return Newsroom(
        articles,
        {c.slug: c for c in (world, europe, france, sport)},
        {a.slug: a for a in (ada, bob)},
        {t.slug: t for t in everything},
    )


@pytest.mark.parametrize(
    ("article_filter", "expected"),
    [
        ({}, ["a5", "a4", "a3", "a2", "a1"]),
        ({"categorySlug": "world"}, ["a3", "a2", "a1"]),
        ({"categorySlug": "europe"}, ["a3", "a2"]),
        ({"categorySlug": "france"}, ["a3"]),
        ({"categorySlug": "sport"}, ["a5", "a4"]),
        ({"authorSlug": "ada"}, ["a5", "a3", "a1"]),
        ({"authorSlug": "bob"}, ["a4", "a2"]),
        ({"tagSlugs": ["a"]}, ["a3", "a2", "a1"]),
        ({"tagSlugs": ["a", "b"]}, ["a3", "a1"]),
        ({"tagSlugs": ["b", "a", "c"]}, ["a3"]),
        ({"tagSlugs": ["a", "a"]}, ["a3", "a2", "a1"]),
        ({"tagSlugs": []}, ["a5", "a4", "a3", "a2", "a1"]),
        ({"categorySlug": "world", "authorSlug": "ada", "tagSlugs": ["b"]}, ["a3", "a1"]),
        ({"categorySlug": "sport", "authorSlug": "bob"}, ["a4"]),
        ({"categorySlug": "nowhere"}, []),
        ({"authorSlug": "nobody"}, []),
        ({"tagSlugs": ["nothing"]}, []),
        ({"tagSlugs": ["a", "nothing"]}, []),
        ({"categorySlug": "sport", "tagSlugs": ["c"]}, []),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    newsroom: Newsroom,
    article_filter: dict[str, Any],
    expected: list[str],
) -> None:
    page = await _page(client, filter=article_filter)
    assert _slugs(page) == expected
    assert page["totalCount"] == len(expected)
    oldest = await _page(client, filter=article_filter, orderBy="OLDEST", last=100)
    assert _slugs(oldest) == expected[::-1]
    assert oldest["totalCount"] == len(expected)


async def test_published_bounds_are_exclusive(
    client: httpx.AsyncClient, newsroom: Newsroom
) -> None:
    a = newsroom.articles
    assert a["a2"].published_at is not None and a["a4"].published_at is not None
    after, before = a["a2"].published_at, a["a4"].published_at
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"publishedAfter": _iso(after)}, ["a5", "a4", "a3"]),
        ({"publishedBefore": _iso(before)}, ["a3", "a2", "a1"]),
        ({"publishedAfter": _iso(after), "publishedBefore": _iso(before)}, ["a3"]),
        ({"publishedAfter": _iso(after - timedelta(microseconds=1))}, ["a5", "a4", "a3", "a2"]),
        ({"publishedBefore": _iso(before + timedelta(seconds=1))}, ["a4", "a3", "a2", "a1"]),
        # The same instant in another zone, and in the "Z" spelling.
        ({"publishedAfter": _iso(after, zone=timezone(timedelta(hours=2)))}, ["a5", "a4", "a3"]),
        ({"publishedBefore": before.strftime("%Y-%m-%dT%H:%M:%SZ")}, ["a3", "a2", "a1"]),
        ({"publishedAfter": _iso(before), "publishedBefore": _iso(after)}, []),
        ({"publishedAfter": _iso(utcnow() - timedelta(minutes=1))}, []),
        ({"publishedAfter": _iso(after), "categorySlug": "world"}, ["a3"]),
    ]
    for article_filter, expected in cases:
        page = await _page(client, filter=article_filter)
        assert (_slugs(page), page["totalCount"]) == (expected, len(expected)), article_filter


async def test_a_status_filter_needs_a_token(client: httpx.AsyncClient, newsroom: Newsroom) -> None:
    for statuses in (["DRAFT"], ["PUBLISHED"], ["DRAFT", "PUBLISHED"], []):
        body = await graphql(client, ARTICLES, {"filter": {"status": statuses}})
        assert body["data"] is None
        _assert_client_error(body, "UNAUTHENTICATED", contains="token")


# -- limits and malformed cursors -----------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": -1},
        {"first": 101},
        {"last": -1},
        {"last": 101},
        {"first": 1000000},
    ],
)
async def test_page_sizes_outside_0_to_100_are_refused(
    client: httpx.AsyncClient, corpus: Corpus, arguments: dict[str, Any]
) -> None:
    body = await graphql(client, ARTICLES, arguments)
    assert body["data"] is None
    name = next(iter(arguments))
    _assert_client_error(body, "BAD_USER_INPUT", contains=f"`{name}` must be between 0 and 100")


async def test_first_and_last_together_are_refused(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    body = await graphql(client, ARTICLES, {"first": 2, "last": 2})
    assert body["data"] is None
    _assert_client_error(body, "BAD_USER_INPUT", contains="`first` or `last`")


@pytest.mark.parametrize("arguments", [{"first": 0}, {"last": 0}])
async def test_a_page_of_zero_is_empty_but_counts(
    client: httpx.AsyncClient, corpus: Corpus, arguments: dict[str, int]
) -> None:
    page = await _page(client, **arguments)
    assert page["edges"] == []
    assert page["totalCount"] == len(corpus.public)
    forward = "first" in arguments
    assert page["pageInfo"]["hasNextPage"] is forward
    assert page["pageInfo"]["hasPreviousPage"] is not forward


async def test_a_hundred_is_allowed(client: httpx.AsyncClient, corpus: Corpus) -> None:
    assert _slugs(await _page(client, first=100)) == corpus.expected("NEWEST")
    assert _slugs(await _page(client, last=100)) == corpus.expected("NEWEST")


_FORGED_CURSORS = [
    "not a cursor",
    "!!!!",
    "",
    "e30",  # {}
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    _forged_cursor({"order": "NEWEST"}),
    _forged_cursor("NEWEST"),
    _forged_cursor(["NEWEST"]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00"]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", 1, 2]),
    _forged_cursor(["NEWEST", "yesterday", 1]),
    _forged_cursor(["NEWEST", 20240101, 1]),
    _forged_cursor(["NEWEST", None, 1]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", "1"]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", 1.5]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", True]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", 2**31]),  # beyond a 32-bit key
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", 10**30]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00", -(10**30)]),
    _forged_cursor(["NEWEST", "2024-01-01T00:00:00+05:00", 1]),  # we never write a zone
    _forged_cursor(["NEWEST", "99999-01-01T00:00:00", 1]),
    _forged_cursor(["SIDEWAYS", "2024-01-01T00:00:00", 1]),
    _forged_cursor(["TITLE", 3, 1]),
    _forged_cursor(["authors", "Ada", 1]),
]


@pytest.mark.parametrize("cursor", _FORGED_CURSORS)
@pytest.mark.parametrize("direction", ["after", "before"])
async def test_malformed_cursors_are_bad_user_input(
    client: httpx.AsyncClient, corpus: Corpus, cursor: str, direction: str
) -> None:
    body = await graphql(client, ARTICLES, {direction: cursor})
    assert body["data"] is None
    _assert_client_error(body, "BAD_USER_INPUT", contains="ursor")


async def test_a_title_cursor_with_a_nul_is_bad_user_input(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    # PostgreSQL text cannot hold NUL: binding one would fail the query instead of refusing it.
    body = await graphql(
        client, ARTICLES, {"orderBy": "TITLE", "after": _forged_cursor(["TITLE", "a\x00", 1])}
    )
    assert body["data"] is None
    _assert_client_error(body, "BAD_USER_INPUT", contains="ursor")


async def test_a_cursor_of_another_order_is_refused(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    orders = ["NEWEST", "OLDEST", "TITLE", "UPDATED"]
    cursors = {
        order: (await _page(client, first=2, orderBy=order))["pageInfo"]["endCursor"]
        for order in orders
    }
    for cursor_order, cursor in cursors.items():
        for order in orders:
            body = await graphql(client, ARTICLES, {"orderBy": order, "after": cursor})
            if order == cursor_order:
                assert "errors" not in body
                continue
            assert body["data"] is None
            message = _assert_client_error(body, "BAD_USER_INPUT", contains="another list or order")
            assert order in message


async def test_an_authors_cursor_is_refused_by_articles_and_back(
    client: httpx.AsyncClient, corpus: Corpus
) -> None:
    authors_cursor = (await data(client, AUTHORS_PAGE))["authors"]["edges"][0]["cursor"]
    for direction in ("after", "before"):
        body = await graphql(client, ARTICLES, {direction: authors_cursor})
        assert body["data"] is None
        _assert_client_error(body, "BAD_USER_INPUT", contains="another list or order")
    articles_cursor = (await _page(client, first=1))["pageInfo"]["endCursor"]
    body = await graphql(client, AUTHORS_AFTER, {"after": articles_cursor})
    assert body["data"] is None
    _assert_client_error(body, "BAD_USER_INPUT", contains="another list or order")


# -- one article ----------------------------------------------------------------------------


async def test_article_by_slug_and_by_id(client: httpx.AsyncClient, corpus: Corpus) -> None:
    article = corpus.public[3]
    global_id = encode_global_id("Article", article.id)
    expected = {"id": global_id, "slug": article.slug, "title": article.title}
    assert (await data(client, ARTICLE_BY_SLUG, {"slug": article.slug}))["article"] == expected
    by_id = (await data(client, ARTICLE_BY_ID, {"id": global_id}))["article"]
    assert by_id == {"id": global_id, "slug": article.slug}


async def test_unknown_articles_are_null(client: httpx.AsyncClient, corpus: Corpus) -> None:
    assert (await data(client, ARTICLE_BY_SLUG, {"slug": "no-such-article"}))["article"] is None
    assert (await data(client, ARTICLE_BY_SLUG, {"slug": ""}))["article"] is None
    unknown = encode_global_id("Article", max(a.id for a in corpus.public + corpus.hidden) + 1)
    assert (await data(client, ARTICLE_BY_ID, {"id": unknown}))["article"] is None
    an_author = encode_global_id("Author", corpus.author.id)
    assert (await data(client, ARTICLE_BY_ID, {"id": an_author}))["article"] is None


@pytest.mark.parametrize(
    ("variables", "message"),
    [({"id": "QXJ0aWNsZTox", "slug": "a"}, "not both"), ({}, "Pass `id` or `slug`")],
)
async def test_article_needs_exactly_one_of_id_and_slug(
    client: httpx.AsyncClient, corpus: Corpus, variables: dict[str, str], message: str
) -> None:
    body = await graphql(client, ARTICLE_BY_ID_AND_SLUG, variables)
    assert body["data"] == {"article": None}
    _assert_client_error(body, "BAD_USER_INPUT", contains=message)
    assert body["errors"][0]["path"] == ["article"]


async def test_a_former_slug_finds_the_article_under_its_new_slug(
    client: httpx.AsyncClient, sessionmaker: Sessions, corpus: Corpus
) -> None:
    moved, other, draft = corpus.public[0], corpus.public[1], corpus.hidden[0]
    async with sessionmaker.begin() as session:
        session.add_all(
            [
                ArticleSlug(slug="older-slug", article_id=moved.id, position=1),
                ArticleSlug(slug="old-slug", article_id=moved.id, position=2),
                # A former slug that another article now holds: the current holder wins.
                ArticleSlug(slug=other.slug, article_id=moved.id, position=3),
                ArticleSlug(slug="old-draft", article_id=draft.id, position=1),
            ]
        )
    for slug in ("old-slug", "older-slug"):
        found = (await data(client, ARTICLE_BY_SLUG, {"slug": slug}))["article"]
        assert found["slug"] == moved.slug
        assert found["id"] == encode_global_id("Article", moved.id)
    assert (await data(client, ARTICLE_BY_SLUG, {"slug": other.slug}))["article"][
        "slug"
    ] == other.slug
    assert (await data(client, ARTICLE_BY_SLUG, {"slug": "old-draft"}))["article"] is None


async def test_article_fields(client: httpx.AsyncClient, sessionmaker: Sessions) -> None:
    author = await make_author(sessionmaker, name="Ada Lovelace", slug="ada")
    category = await make_category(sessionmaker, name="Science", slug="science")
    tags = [
        await make_tag(sessionmaker, name=name, slug=name) for name in ("zulu", "alpha", "mango")
    ]
    published = datetime(2024, 3, 1, 12, 30, 15, 250000)
    article = await make_article(
        sessionmaker,
        author=author,
        category=category,
        tags=tags,
        title="Engines",
        slug="engines",
        body=" ".join(["word"] * 401),
        published_at=published,
        updated_at=published + timedelta(days=1),
    )
    found = (await data(client, ARTICLE_FIELDS, {"slug": "engines"}))["article"]
    assert found == {
        "id": encode_global_id("Article", article.id),
        "slug": "engines",
        "title": "Engines",
        "excerpt": article.excerpt,
        "body": article.body,
        "status": "PUBLISHED",
        "publishedAt": "2024-03-01T12:30:15.250000+00:00",
        "createdAt": _iso(article.created_at),
        "updatedAt": "2024-03-02T12:30:15.250000+00:00",
        "version": 1,
        "wordCount": 401,
        "readingTimeMinutes": 3,
        "author": {"slug": "ada", "name": "Ada Lovelace"},
        "category": {"slug": "science", "name": "Science"},
        "tags": [
            {"slug": "alpha", "name": "alpha"},
            {"slug": "mango", "name": "mango"},
            {"slug": "zulu", "name": "zulu"},
        ],
    }


@pytest.mark.parametrize(("words", "minutes"), [(0, 1), (1, 1), (200, 1), (201, 2), (400, 2)])
async def test_reading_time_rounds_up_and_is_at_least_a_minute(
    client: httpx.AsyncClient, sessionmaker: Sessions, words: int, minutes: int
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    article = await make_article(
        sessionmaker, author=author, category=category, body=" ".join(["w"] * words)
    )
    found = (await data(client, ARTICLE_FIELDS, {"slug": article.slug}))["article"]
    assert (found["wordCount"], found["readingTimeMinutes"]) == (words, minutes)


# -- visibility -----------------------------------------------------------------------------


async def test_hidden_articles_never_reach_anonymous_readers(
    client: httpx.AsyncClient, sessionmaker: Sessions, newsroom: Newsroom
) -> None:
    a = newsroom.articles
    hidden = {"draft", "scheduled"}
    # Pinned and sharing every tag and the category: the strongest candidates, yet hidden.
    await pin_related(sessionmaker, a["a3"], [a["draft"], a["scheduled"], a["a1"]])
    found = await data(
        client, EVERYWHERE, {"slug": "a3", "category": "world", "author": "ada", "tag": "a"}
    )
    public = {"a1", "a2", "a3", "a4", "a5"}

    def check(connection: dict[str, Any], expected: set[str], count: int | None = None) -> None:
        slugs = _slugs(connection)
        assert set(slugs) == expected
        assert connection["totalCount"] == len(expected)
        if count is not None:
            assert count == len(expected)

    for alias in ("articles", "oldest", "byTitle", "updated"):
        check(found[alias], public)
    check(found["filtered"], {"a1", "a2", "a3"})
    related = [post["slug"] for post in found["article"]["relatedPosts"]]
    assert related[0] == "a1"
    assert sorted(related) == sorted(public - {"a3"})
    category = found["category"]
    check(category["articles"], {"a1", "a2", "a3"}, category["articleCount"])
    check(category["exact"], {"a1"})
    check(found["author"]["articles"], {"a1", "a3", "a5"}, found["author"]["articleCount"])
    check(found["tag"]["articles"], {"a1", "a2", "a3"}, found["tag"]["articleCount"])
    for listing in (found["categories"], found["authors"]["nodes"], found["tags"]["nodes"]):
        for item in listing:
            assert not hidden & set(_slugs(item["articles"]))
            assert item["articleCount"] == item["articles"]["totalCount"]
    for slug in hidden:
        assert (await data(client, ARTICLE_BY_SLUG, {"slug": slug}))["article"] is None
        global_id = encode_global_id("Article", a[slug].id)
        assert (await data(client, ARTICLE_BY_ID, {"id": global_id}))["article"] is None
