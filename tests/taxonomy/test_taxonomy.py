"""Categories, authors and tags end to end (SPEC "Reading"): the tree, name-ordered lists, their
articles and counts, and nested article lists batched across many parents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, Author, Category, Tag, utcnow
from resolvers.access.viewer import ANONYMOUS
from resolvers.articles.reads import ArticleOrder, ArticleScope, article_pages
from resolvers.global_ids import encode_global_id
from resolvers.pagination import PageRequest
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data, error_codes, graphql

Sessions = async_sessionmaker[AsyncSession]

CATEGORY = """
query Category($id: ID, $slug: String) {
  category(id: $id, slug: $slug) {
    id slug name description
    parent { slug }
    children { slug }
    ancestors { slug }
    articleCount
  }
}
"""

CATEGORY_ARTICLES = """
query CategoryArticles(
  $slug: String!, $first: Int, $after: String, $include: Boolean!, $orderBy: ArticleOrder!
) {
  category(slug: $slug) {
    articleCount
    articles(first: $first, after: $after, includeSubcategories: $include, orderBy: $orderBy) {
      nodes { slug }
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

CATEGORIES = """
query Categories($rootsOnly: Boolean) { categories(rootsOnly: $rootsOnly) { slug } }
"""

CATEGORIES_DEFAULT = """
query CategoriesDefault { categories { slug } }
"""

AUTHOR = """
query Author($id: ID, $slug: String, $first: Int, $after: String) {
  author(id: $id, slug: $slug) {
    id slug name bio avatarUrl articleCount
    articles(first: $first, after: $after) {
      nodes { slug }
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

TAG = """
query Tag($id: ID, $slug: String, $first: Int, $after: String) {
  tag(id: $id, slug: $slug) {
    id slug name articleCount
    articles(first: $first, after: $after) {
      nodes { slug }
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

AUTHORS = """
query Authors($first: Int, $after: String) {
  authors(first: $first, after: $after) {
    edges { cursor node { slug } }
    nodes { slug }
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

TAGS = """
query Tags($first: Int, $after: String) {
  tags(first: $first, after: $after) {
    edges { cursor node { slug } }
    nodes { slug }
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

NESTED = """
query Nested($first: Int, $after: String) {
  authors(first: 100) {
    nodes {
      slug
      articleCount
      articles(first: $first, after: $after) {
        nodes { slug }
        totalCount
        pageInfo { hasNextPage hasPreviousPage }
      }
    }
  }
  tags(first: 100) {
    nodes {
      slug
      articleCount
      articles(first: $first, after: $after) {
        nodes { slug }
        totalCount
        pageInfo { hasNextPage hasPreviousPage }
      }
    }
  }
  categories {
    slug
    articleCount
    articles(first: $first, after: $after) {
      nodes { slug }
      totalCount
      pageInfo { hasNextPage hasPreviousPage }
    }
    exact: articles(first: $first, after: $after, includeSubcategories: false) {
      nodes { slug }
      totalCount
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
}
"""

NESTED_TITLES = """
query NestedTitles($first: Int, $after: String) {
  categories {
    slug
    articles(first: $first, after: $after, orderBy: TITLE) { nodes { slug } }
    oldest: articles(first: $first, orderBy: OLDEST) { nodes { slug } }
  }
}
"""

NEWEST_CURSOR = """
query NewestCursor($slug: String!) {
  articles(first: 100) { edges { cursor node { slug } } }
  article(slug: $slug) { slug }
}
"""

TITLE_CURSORS = """
query TitleCursors { articles(first: 100, orderBy: TITLE) { edges { cursor node { slug } } } }
"""


def _slugs(connection: dict[str, Any]) -> list[str]:
    return [node["slug"] for node in connection["nodes"]]


def _newest(articles: Sequence[Article]) -> list[str]:
    return [a.slug for a in sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)]


def _expected_page(slugs: list[str], first: int) -> dict[str, Any]:
    return {
        "nodes": [{"slug": slug} for slug in slugs[:first]],
        "totalCount": len(slugs),
        "pageInfo": {"hasNextPage": len(slugs) > first, "hasPreviousPage": False},
    }


# -- the category tree ----------------------------------------------------------------------


@dataclass
class Tree:
    """world > europe > france, world > americas, world > oceania; sport; arts (empty root)."""

    categories: dict[str, Category]
    articles: dict[str, Article]
    author: Author


@pytest.fixture
async def tree(sessionmaker: Sessions) -> Tree:
    made: dict[str, Category] = {}
    for slug, name, parent in [
        ("world", "World", None),
        ("sport", "Sport", None),
        ("arts", "Arts", None),
        ("oceania", "Oceania", "world"),
        ("europe", "Europe", "world"),
        ("americas", "Americas", "world"),
        ("france", "France", "europe"),
    ]:
        made[slug] = await make_category(
            sessionmaker, slug=slug, name=name, parent=made[parent] if parent else None
        )
    author = await make_author(sessionmaker)
    base = utcnow().replace(microsecond=0) - timedelta(days=20)
    articles: dict[str, Article] = {}
    # (slug, title, category, days after base)
    for slug, title, category, day in [
        ("w1", "Mango", "world", 1),
        ("e1", "Kiwi", "europe", 2),
        ("f1", "Banana", "france", 3),
        ("f2", "Apple", "france", 4),
        ("o1", "Cherry", "oceania", 5),
        ("s1", "Lemon", "sport", 6),
        ("w2", "Fig", "world", 7),
    ]:
        articles[slug] = await make_article(
            sessionmaker,
            author=author,
            category=made[category],
            slug=slug,
            title=title,
            published_at=base + timedelta(days=day),
        )
    for slug in ("world", "france"):
        await make_article(
            sessionmaker,
            author=author,
            category=made[slug],
            title="A draft",
            status=ArticleStatus.DRAFT,
        )
        await make_article(
            sessionmaker,
            author=author,
            category=made[slug],
            published_at=utcnow() + timedelta(days=1),
        )
    return Tree(made, articles, author)


def _subtree_slugs(tree: Tree, slug: str) -> list[str]:
    """The public articles filed in ``slug`` or anywhere below it."""
    by_id = {category.id: category for category in tree.categories.values()}

    def lineage(category_id: int | None) -> set[str]:
        slugs = set()
        while category_id is not None:
            slugs.add(by_id[category_id].slug)
            category_id = by_id[category_id].parent_id
        return slugs

    return [a.slug for a in tree.articles.values() if slug in lineage(a.category_id)]


@pytest.mark.parametrize(
    ("slug", "parent", "children", "ancestors", "count"),
    [
        ("world", None, ["americas", "europe", "oceania"], [], 6),
        ("europe", "world", ["france"], ["world"], 3),
        ("france", "europe", [], ["world", "europe"], 2),
        ("oceania", "world", [], ["world"], 1),
        ("americas", "world", [], ["world"], 0),
        ("sport", None, [], [], 1),
        ("arts", None, [], [], 0),
    ],
)
async def test_category_in_its_tree(
    client: httpx.AsyncClient,
    tree: Tree,
    slug: str,
    parent: str | None,
    children: list[str],
    ancestors: list[str],
    count: int,
) -> None:
    row = tree.categories[slug]
    expected = {
        "id": encode_global_id("Category", row.id),
        "slug": slug,
        "name": row.name,
        "description": row.description,
        "parent": {"slug": parent} if parent else None,
        "children": [{"slug": child} for child in children],
        "ancestors": [{"slug": ancestor} for ancestor in ancestors],
        "articleCount": count,
    }
    assert (await data(client, CATEGORY, {"slug": slug}))["category"] == expected
    assert (await data(client, CATEGORY, {"id": expected["id"]}))["category"] == expected


async def test_unknown_categories_are_null(client: httpx.AsyncClient, tree: Tree) -> None:
    assert (await data(client, CATEGORY, {"slug": "nowhere"}))["category"] is None
    unknown = encode_global_id("Category", max(c.id for c in tree.categories.values()) + 1)
    assert (await data(client, CATEGORY, {"id": unknown}))["category"] is None
    an_author = encode_global_id("Author", tree.author.id)
    assert (await data(client, CATEGORY, {"id": an_author}))["category"] is None


@pytest.mark.parametrize("query", [CATEGORY, AUTHOR, TAG])
@pytest.mark.parametrize("variables", [{"id": "Q2F0ZWdvcnk6MQ", "slug": "world"}, {}])
async def test_lookups_need_exactly_one_of_id_and_slug(
    client: httpx.AsyncClient, tree: Tree, query: str, variables: dict[str, str]
) -> None:
    body = await graphql(client, query, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "`id` or `slug`" in body["errors"][0]["message"]
    assert list(body["data"].values()) == [None]


@pytest.mark.parametrize(
    ("slug", "include", "order", "expected"),
    [
        ("world", True, "NEWEST", ["w2", "o1", "f2", "f1", "e1", "w1"]),
        ("world", False, "NEWEST", ["w2", "w1"]),
        ("world", True, "OLDEST", ["w1", "e1", "f1", "f2", "o1", "w2"]),
        ("world", True, "TITLE", ["f2", "f1", "o1", "w2", "e1", "w1"]),
        ("world", False, "TITLE", ["w2", "w1"]),
        ("world", True, "UPDATED", ["w2", "o1", "f2", "f1", "e1", "w1"]),
        ("europe", True, "NEWEST", ["f2", "f1", "e1"]),
        ("europe", False, "NEWEST", ["e1"]),
        ("france", True, "TITLE", ["f2", "f1"]),
        ("americas", True, "NEWEST", []),
        ("arts", False, "NEWEST", []),
    ],
)
async def test_category_articles(
    client: httpx.AsyncClient, tree: Tree, slug: str, include: bool, order: str, expected: list[str]
) -> None:
    variables = {"slug": slug, "include": include, "orderBy": order, "first": 100}
    category = (await data(client, CATEGORY_ARTICLES, variables))["category"]
    assert _slugs(category["articles"]) == expected
    assert category["articles"]["totalCount"] == len(expected)
    assert category["articleCount"] == len(_subtree_slugs(tree, slug))
    # Page through two at a time: the same list.
    walked: list[str] = []
    after = None
    while True:
        page = await data(client, CATEGORY_ARTICLES, {**variables, "first": 2, "after": after})
        articles = page["category"]["articles"]
        assert articles["pageInfo"]["hasPreviousPage"] is (after is not None)
        walked += _slugs(articles)
        if not articles["pageInfo"]["hasNextPage"]:
            break
        after = articles["pageInfo"]["endCursor"]
    assert walked == expected


async def test_relevance_is_refused_on_category_articles(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    variables = {"slug": "world", "include": True, "orderBy": "RELEVANCE"}
    body = await graphql(client, CATEGORY_ARTICLES, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"category": None}


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        (
            CATEGORIES_DEFAULT,
            {},
            ["americas", "arts", "europe", "france", "oceania", "sport", "world"],
        ),
        (
            CATEGORIES,
            {"rootsOnly": False},
            ["americas", "arts", "europe", "france", "oceania", "sport", "world"],
        ),
        (CATEGORIES, {"rootsOnly": True}, ["arts", "sport", "world"]),
    ],
)
async def test_categories_by_name(
    client: httpx.AsyncClient,
    tree: Tree,
    query: str,
    variables: dict[str, bool],
    expected: list[str],
) -> None:
    assert [c["slug"] for c in (await data(client, query, variables))["categories"]] == expected


# -- authors and tags -----------------------------------------------------------------------


@dataclass
class People:
    """Authors and tags with names out of creation order (and a tie), and their articles."""

    authors: dict[str, Author]
    tags: dict[str, Tag]
    articles: dict[str, Article]


@pytest.fixture
async def people(sessionmaker: Sessions) -> People:
    category = await make_category(sessionmaker)
    authors = {
        slug: await make_author(sessionmaker, slug=slug, name=name)
        for slug, name in [
            ("zoe", "Zoe"),
            ("bea", "Bea"),
            ("cat2", "Cat"),
            ("cat1", "Cat"),
            ("al", "Al"),
            ("dan", "Dan"),
        ]
    }
    tags = {
        slug: await make_tag(sessionmaker, slug=slug, name=name)
        for slug, name in [
            ("t-one", "one"),
            ("t-two", "two"),
            ("t-three", "three"),
            ("t-four", "four"),
        ]
    }
    base = utcnow().replace(microsecond=0) - timedelta(days=40)
    articles: dict[str, Article] = {}
    # Zoe 5, Bea 3, Cat2 1, Cat1 0, Al 2 articles, Dan only hidden ones; days interleave authors.
    plan = [
        ("zoe", ["t-one", "t-two"]),
        ("bea", ["t-one"]),
        ("zoe", ["t-two"]),
        ("al", ["t-one", "t-two", "t-three"]),
        ("zoe", []),
        ("bea", ["t-one"]),
        ("cat2", ["t-two"]),
        ("zoe", ["t-one"]),
        ("al", ["t-three"]),
        ("bea", ["t-one", "t-two"]),
        ("zoe", ["t-one"]),
    ]
    for day, (author, tag_slugs) in enumerate(plan, start=1):
        article = await make_article(
            sessionmaker,
            author=authors[author],
            category=category,
            tags=[tags[slug] for slug in tag_slugs],
            slug=f"{author}-{day}",
            published_at=base + timedelta(days=day),
        )
        articles[article.slug] = article
    everything = list(tags.values())
    for author in ("dan", "zoe"):
        await make_article(
            sessionmaker,
            author=authors[author],
            category=category,
            tags=everything,
            status=ArticleStatus.DRAFT,
        )
        await make_article(
            sessionmaker,
            author=authors[author],
            category=category,
            tags=everything,
            published_at=utcnow() + timedelta(hours=2),
        )
    return People(authors, tags, articles)


def _by_author(people: People, slug: str) -> list[str]:
    author_id = people.authors[slug].id
    return _newest([a for a in people.articles.values() if a.author_id == author_id])


def _by_tag(people: People, slug: str) -> list[str]:
    return [s for s in _newest(list(people.articles.values())) if s in _TAGGED[slug]]


_TAGGED = {
    "t-one": ["zoe-1", "bea-2", "al-4", "bea-6", "zoe-8", "bea-10", "zoe-11"],
    "t-two": ["zoe-1", "zoe-3", "al-4", "cat2-7", "bea-10"],
    "t-three": ["al-4", "al-9"],
    "t-four": [],
}

_AUTHORS_BY_NAME = ["al", "bea", "cat2", "cat1", "dan", "zoe"]
_TAGS_BY_NAME = ["t-four", "t-one", "t-three", "t-two"]


async def test_author_by_slug_and_id(client: httpx.AsyncClient, people: People) -> None:
    zoe = people.authors["zoe"]
    expected_articles = _by_author(people, "zoe")
    expected: dict[str, Any] = {
        "id": encode_global_id("Author", zoe.id),
        "slug": "zoe",
        "name": "Zoe",
        "bio": zoe.bio,
        "avatarUrl": zoe.avatar_url,
        "articleCount": 5,
        "articles": {
            "nodes": [{"slug": slug} for slug in expected_articles],
            "totalCount": 5,
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "endCursor": None},
        },
    }
    by_slug = (await data(client, AUTHOR, {"slug": "zoe"}))["author"]
    expected["articles"]["pageInfo"]["endCursor"] = by_slug["articles"]["pageInfo"]["endCursor"]
    assert by_slug == expected
    assert (await data(client, AUTHOR, {"id": expected["id"]}))["author"] == expected
    assert (await data(client, AUTHOR, {"slug": "nobody"}))["author"] is None
    dan = (await data(client, AUTHOR, {"slug": "dan"}))["author"]
    assert (dan["articleCount"], dan["articles"]["nodes"], dan["articles"]["totalCount"]) == (
        0,
        [],
        0,
    )


async def test_tag_by_slug_and_id(client: httpx.AsyncClient, people: People) -> None:
    one = people.tags["t-one"]
    by_slug = (await data(client, TAG, {"slug": "t-one"}))["tag"]
    assert by_slug["id"] == encode_global_id("Tag", one.id)
    assert (by_slug["slug"], by_slug["name"], by_slug["articleCount"]) == ("t-one", "one", 7)
    assert _slugs(by_slug["articles"]) == _by_tag(people, "t-one")
    assert by_slug["articles"]["totalCount"] == 7
    assert (await data(client, TAG, {"id": by_slug["id"]}))["tag"] == by_slug
    assert (await data(client, TAG, {"slug": "nothing"}))["tag"] is None
    four = (await data(client, TAG, {"slug": "t-four"}))["tag"]
    assert (four["articleCount"], four["articles"]["nodes"]) == (0, [])


@pytest.mark.parametrize(("query", "slug"), [(AUTHOR, "zoe"), (TAG, "t-one"), (TAG, "t-two")])
@pytest.mark.parametrize("size", [1, 2, 3])
async def test_nested_articles_page_on_newest_first(
    client: httpx.AsyncClient, people: People, query: str, slug: str, size: int
) -> None:
    expected = _by_author(people, slug) if query is AUTHOR else _by_tag(people, slug)
    walked: list[str] = []
    after = None
    while True:
        found = await data(client, query, {"slug": slug, "first": size, "after": after})
        articles = next(iter(found.values()))["articles"]
        assert articles["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert articles["totalCount"] == len(expected)
        walked += _slugs(articles)
        if not articles["pageInfo"]["hasNextPage"]:
            break
        after = articles["pageInfo"]["endCursor"]
    assert walked == expected


@pytest.mark.parametrize(
    ("query", "key", "expected"),
    [(AUTHORS, "authors", _AUTHORS_BY_NAME), (TAGS, "tags", _TAGS_BY_NAME)],
)
@pytest.mark.parametrize("size", [1, 2, 4, 100])
async def test_name_lists_page_by_name(
    client: httpx.AsyncClient, people: People, query: str, key: str, expected: list[str], size: int
) -> None:
    walked: list[str] = []
    after = None
    while True:
        page = (await data(client, query, {"first": size, "after": after}))[key]
        assert page["nodes"] == [edge["node"] for edge in page["edges"]]
        assert page["totalCount"] == len(expected)
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        walked += _slugs(page)
        if not info["hasNextPage"]:
            break
        assert len(page["nodes"]) == size
        after = info["endCursor"]
    assert walked == expected


@pytest.mark.parametrize(("query", "key", "count"), [(AUTHORS, "authors", 6), (TAGS, "tags", 4)])
async def test_name_lists_default_and_limits(
    client: httpx.AsyncClient, people: People, query: str, key: str, count: int
) -> None:
    page = (await data(client, query))[key]
    assert (len(page["nodes"]), page["totalCount"], page["pageInfo"]["hasNextPage"]) == (
        count,
        count,
        False,
    )
    empty = (await data(client, query, {"first": 0}))[key]
    assert (empty["nodes"], empty["totalCount"], empty["pageInfo"]["hasNextPage"]) == (
        [],
        count,
        True,
    )
    for bad in (-1, 101):
        body = await graphql(client, query, {"first": bad})
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert "between 0 and 100" in body["errors"][0]["message"]
    body = await graphql(client, query, {"after": "nonsense"})
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_authors_and_tags_cursors_do_not_mix(
    client: httpx.AsyncClient, people: People
) -> None:
    tag_cursor = (await data(client, TAGS, {"first": 1}))["tags"]["pageInfo"]["endCursor"]
    author_cursor = (await data(client, AUTHORS, {"first": 1}))["authors"]["pageInfo"]["endCursor"]
    for query, cursor in ((AUTHORS, tag_cursor), (TAGS, author_cursor)):
        body = await graphql(client, query, {"after": cursor})
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert "another list" in body["errors"][0]["message"]


# -- nested lists, batched ------------------------------------------------------------------


# 30: every list whole; 100 articles for each of 100 authors would be over the cost cap.
@pytest.mark.parametrize("first", [0, 1, 2, 3, 30])
async def test_nested_lists_hold_each_parents_own_articles(
    client: httpx.AsyncClient, people: People, first: int
) -> None:
    found = await data(client, NESTED, {"first": first})
    authors = found["authors"]["nodes"]
    assert [a["slug"] for a in authors] == _AUTHORS_BY_NAME
    for author in authors:
        expected = _by_author(people, author["slug"])
        assert author["articleCount"] == len(expected)
        assert author["articles"] == _expected_page(expected, first)
    tags = found["tags"]["nodes"]
    assert [t["slug"] for t in tags] == _TAGS_BY_NAME
    for tag in tags:
        expected = _by_tag(people, tag["slug"])
        assert tag["articleCount"] == len(expected)
        assert tag["articles"] == _expected_page(expected, first)
    (category,) = found["categories"]
    everything = _newest(list(people.articles.values()))
    assert category["articleCount"] == len(everything)
    assert category["articles"] == category["exact"] == _expected_page(everything, first)


async def test_nested_lists_page_on_from_a_shared_cursor(
    client: httpx.AsyncClient, people: People
) -> None:
    # A cursor is a place in the order, so one cursor pages every parent's list on from there.
    edges = (await data(client, NEWEST_CURSOR, {"slug": "zoe-8"}))["articles"]["edges"]
    everything = [edge["node"]["slug"] for edge in edges]
    for i in (0, 3, 6, len(edges) - 1):
        cursor = edges[i]["cursor"]
        older = set(everything[i + 1 :])
        found = await data(client, NESTED, {"first": 2, "after": cursor})
        for author in found["authors"]["nodes"]:
            rest = [s for s in _by_author(people, author["slug"]) if s in older]
            assert author["articles"]["nodes"] == [{"slug": s} for s in rest[:2]]
            assert author["articles"]["pageInfo"] == {
                "hasNextPage": len(rest) > 2,
                "hasPreviousPage": True,
            }
            # totalCount is the whole list's, not what is left after the cursor.
            assert author["articles"]["totalCount"] == author["articleCount"]
        for tag in found["tags"]["nodes"]:
            rest = [s for s in _by_tag(people, tag["slug"]) if s in older]
            assert tag["articles"]["nodes"] == [{"slug": s} for s in rest[:2]]


async def test_nested_category_lists_with_overlapping_subtrees(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    # Every category of the tree in one list: parents and children are batched together.
    found = await data(client, NESTED, {"first": 3})
    by_slug = {c["slug"]: c for c in found["categories"]}
    for slug, category in tree.categories.items():
        subtree = set(_subtree_slugs(tree, slug))
        ordered = [s for s in _newest(list(tree.articles.values())) if s in subtree]
        assert by_slug[slug]["articleCount"] == len(ordered)
        assert by_slug[slug]["articles"] == _expected_page(ordered, 3)
        exact = [
            s
            for s in _newest(list(tree.articles.values()))
            if tree.articles[s].category_id == category.id
        ]
        assert by_slug[slug]["exact"] == _expected_page(exact, 3)


async def test_nested_category_lists_in_other_orders(client: httpx.AsyncClient, tree: Tree) -> None:
    title_edges = (await data(client, TITLE_CURSORS))["articles"]["edges"]
    by_title = [edge["node"]["slug"] for edge in title_edges]
    cursor = title_edges[1]["cursor"]  # after "Banana"
    found = await data(client, NESTED_TITLES, {"first": 2, "after": cursor})
    oldest_first = _newest(list(tree.articles.values()))[::-1]
    for category in found["categories"]:
        subtree = set(_subtree_slugs(tree, category["slug"]))
        titled = [s for s in by_title[2:] if s in subtree]
        assert _slugs(category["articles"]) == titled[:2]
        assert _slugs(category["oldest"]) == [s for s in oldest_first if s in subtree][:2]


@pytest.mark.parametrize("scope", [ArticleScope.AUTHOR, ArticleScope.TAG])
@pytest.mark.parametrize("size", [1, 2, 3])
async def test_batched_pages_equal_single_pages_backward_too(
    sessionmaker: Sessions, people: People, scope: ArticleScope, size: int
) -> None:
    """No GraphQL field walks a nested list backward yet, but the batched path must already."""
    rows = people.authors.values() if scope is ArticleScope.AUTHOR else people.tags.values()
    scope_ids = [row.id for row in rows]
    now = utcnow()

    async def pages(
        ids: Sequence[int], request: PageRequest
    ) -> dict[int, tuple[list[str], bool, bool]]:
        async with sessionmaker() as session:
            found = await article_pages(
                session,
                scope=scope,
                scope_ids=ids,
                article_filter=None,
                order=ArticleOrder.NEWEST,
                request=request,
                viewer=ANONYMOUS,
                now=now,
            )
        return {
            key: ([a.slug for a in page.rows], page.has_next_page, page.has_previous_page)
            for key, page in found.items()
        }

    async with sessionmaker() as session:
        everything = await article_pages(
            session,
            scope=ArticleScope.ALL,
            scope_ids=[0],
            article_filter=None,
            order=ArticleOrder.NEWEST,
            request=PageRequest(first=100),
            viewer=ANONYMOUS,
            now=now,
        )
    page = everything[0]
    cursors = [page.cursor(row) for row in page.rows]
    requests = [PageRequest(last=size), PageRequest(first=size)]
    for cursor in cursors[::3]:
        requests += [
            PageRequest(last=size, before=cursor),
            PageRequest(first=size, after=cursor),
            PageRequest(last=size, after=cursor),
            PageRequest(first=size, before=cursor),
        ]
    for request in requests:
        batched = await pages(scope_ids, request)
        assert set(batched) == set(scope_ids)
        for scope_id in scope_ids:
            assert batched[scope_id] == (await pages([scope_id], request))[scope_id], request
