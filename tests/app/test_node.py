"""``node(id:)`` (SPEC "Reading"): every type resolves; anything else, or a hidden article,
is null; and the type lookups by id agree."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ArticleStatus, utcnow
from resolvers.global_ids import MAX_PK, decode_global_id, encode_global_id
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data

Sessions = async_sessionmaker[AsyncSession]

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Article { slug title }
    ... on Author { slug name }
    ... on Category { slug name }
    ... on Tag { slug name }
  }
}
"""

ARTICLE_BY_ID = """
query ArticleById($id: ID!) { article(id: $id) { slug } }
"""

ARTICLE_IDS = """
query ArticleIds($slug: String!) {
  article(slug: $slug) { id author { id } category { id } tags { id } }
}
"""

NAMED_BY_ID = """
query NamedById($id: ID!) {
  author(id: $id) { slug }
  category(id: $id) { slug }
  tag(id: $id) { slug }
}
"""


def _raw_id(text: str) -> str:
    """A global id spelled by hand, the way a client could forge one."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_every_type_resolves_by_its_id(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker, name="Ada", slug="ada")
    category = await make_category(sessionmaker, name="News", slug="news")
    tag = await make_tag(sessionmaker, name="Science", slug="science")
    article = await make_article(
        sessionmaker, author=author, category=category, tags=[tag], title="Hello", slug="hello"
    )
    expected = {
        encode_global_id("Article", article.id): {
            "__typename": "Article",
            "slug": "hello",
            "title": "Hello",
        },
        encode_global_id("Author", author.id): {
            "__typename": "Author",
            "slug": "ada",
            "name": "Ada",
        },
        encode_global_id("Category", category.id): {
            "__typename": "Category",
            "slug": "news",
            "name": "News",
        },
        encode_global_id("Tag", tag.id): {
            "__typename": "Tag",
            "slug": "science",
            "name": "Science",
        },
    }
    for global_id, fields in expected.items():
        node = (await data(client, NODE, {"id": global_id}))["node"]
        assert node == {"id": global_id, **fields}


async def test_ids_from_the_api_round_trip(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    tag = await make_tag(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category, tags=[tag])
    found = await data(
        client,
        ARTICLE_IDS,
        {"slug": article.slug},
    )
    got = found["article"]
    for global_id in (got["id"], got["author"]["id"], got["category"]["id"], got["tags"][0]["id"]):
        assert (await data(client, NODE, {"id": global_id}))["node"]["id"] == global_id


# Ids we never hand out: each stops decode_global_id at a different check.
_MALFORMED = [
    "",
    "!!!",
    "not base64 at all",
    "é",
    _raw_id("nothing"),
    _raw_id("Article:"),
    _raw_id("Article:abc"),
    _raw_id("Article:-1"),
    _raw_id("Article:1.5"),
    _raw_id("Article:01"),  # int() takes it, but we write 1
    _raw_id("Article:²"),  # a digit to str.isdigit(), not to int()
    _raw_id("Article:\u0661"),  # ARABIC-INDIC DIGIT ONE: int() takes it, we never write it
    _raw_id("Article 2:1"),
    _raw_id(":1"),
    _raw_id("Article:2147483648"),  # MAX_PK + 1: beyond a 32-bit key
    _raw_id("Article:99999999999"),
    _raw_id("Article:999999999999999999"),
    _raw_id("Article:" + "9" * 40),
    _raw_id("Article:" + "9" * 5000),  # more digits than int() converts
    base64.urlsafe_b64encode(b"\xff\xfe:1").decode(),
]


@pytest.mark.parametrize(
    ("type_name", "pk", "global_id"),
    [
        ("Article", 1, "QXJ0aWNsZTox"),
        ("Tag", 0, "VGFnOjA"),
        ("Author", 123, "QXV0aG9yOjEyMw"),
        ("Category", MAX_PK, "Q2F0ZWdvcnk6MjE0NzQ4MzY0Nw"),
    ],
)
def test_a_global_id_is_unpadded_base64url_of_type_and_key(
    type_name: str, pk: int, global_id: str
) -> None:
    """Clients keep ids: the spelling never changes, and every key up to MAX_PK decodes."""
    assert encode_global_id(type_name, pk) == global_id
    assert decode_global_id(global_id) == (type_name, pk)


@pytest.mark.parametrize("global_id", _MALFORMED)
def test_ids_we_never_write_do_not_decode(global_id: str) -> None:
    assert decode_global_id(global_id) is None


@pytest.mark.parametrize("global_id", [*_MALFORMED, _raw_id("Widget:1")])
async def test_malformed_or_foreign_ids_are_null(
    client: httpx.AsyncClient, sessionmaker: Sessions, global_id: str
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    await make_article(sessionmaker, author=author, category=category)
    assert (await data(client, NODE, {"id": global_id}))["node"] is None
    assert (await data(client, ARTICLE_BY_ID, {"id": global_id}))["article"] is None
    assert (await data(client, NAMED_BY_ID, {"id": global_id})) == {
        "author": None,
        "category": None,
        "tag": None,
    }


async def test_unknown_ids_are_null(client: httpx.AsyncClient, sessionmaker: Sessions) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    tag = await make_tag(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    for type_name, pk in (
        ("Article", article.id + 100),
        ("Author", author.id + 100),
        ("Category", category.id + 100),
        ("Tag", tag.id + 100),
    ):
        assert (await data(client, NODE, {"id": encode_global_id(type_name, pk)}))["node"] is None


async def test_an_id_of_another_type_finds_nothing_by_type_lookup(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    tag = await make_tag(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    # All four rows have small ids that may coincide: the type in the id decides.
    author_id = encode_global_id("Author", author.id)
    assert (await data(client, ARTICLE_BY_ID, {"id": author_id}))["article"] is None
    article_id = encode_global_id("Article", article.id)
    assert (await data(client, NAMED_BY_ID, {"id": article_id})) == {
        "author": None,
        "category": None,
        "tag": None,
    }
    tag_id = encode_global_id("Tag", tag.id)
    assert (await data(client, NAMED_BY_ID, {"id": tag_id})) == {
        "author": None,
        "category": None,
        "tag": {"slug": tag.slug},
    }


async def test_hidden_articles_are_null(client: httpx.AsyncClient, sessionmaker: Sessions) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    draft = await make_article(
        sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
    )
    scheduled = await make_article(
        sessionmaker, author=author, category=category, published_at=utcnow() + timedelta(hours=1)
    )
    for article in (draft, scheduled):
        global_id = encode_global_id("Article", article.id)
        assert (await data(client, NODE, {"id": global_id}))["node"] is None
        assert (await data(client, ARTICLE_BY_ID, {"id": global_id}))["article"] is None
