"""Names listed as people read them (SPEC "Reading": ordered by name): case and accents
ignored, the same order on SQLite and PostgreSQL, and keyset cursors that walk exactly it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.models import Author, Category, Tag
from db.name_keys import name_key
from masthead.corpus.demo import load_demo
from masthead.corpus.format import AUTHOR, CATEGORY, TAG
from masthead.corpus.importer import import_corpus
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from resolvers.pagination import Page, PageRequest, encode_cursor
from resolvers.taxonomy.lookups import Named, name_page
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data, error_codes, graphql
from tests.support.plans import app_on_icu_database, plan, sent

Sessions = async_sessionmaker[AsyncSession]

AUTHORS = """
query Authors($first: Int, $after: String) {
  authors(first: $first, after: $after) {
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

TAGS = """
query Tags($first: Int, $after: String) {
  tags(first: $first, after: $after) {
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

CATEGORIES = """
query Categories($rootsOnly: Boolean, $slug: String!) {
  categories(rootsOnly: $rootsOnly) { slug }
  category(slug: $slug) { children { slug } }
}
"""

ARTICLE_TAGS = """
query ArticleTags($slug: String!) { article(slug: $slug) { tags { slug } } }
"""

CREATE_TAG = """
mutation CreateTag($input: TagInput!) { createTag(input: $input) { tag { slug } } }
"""

UPDATE_TAG = """
mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {
  updateTag(id: $id, input: $input) { tag { slug name } }
}
"""

# (slug, name) in the order the rows are created: neither by name nor by byte order.
CREATED = [
    ("tour", "Tour de France"),
    ("zebra", "zebra"),
    ("elodie-acute", "Élodie"),
    ("analysis", "analysis"),
    ("oslo-1", "Oslo"),
    ("strasse-eszett", "Straße"),
    ("eu", "European Union"),
    ("elodie-lower", "elodie"),
    ("lodz-stroke", "Łódź"),
    ("zoe", "Zoë"),
    ("elodie", "Elodie"),
    ("orsted", "Ørsted"),
    ("emile", "Émile"),
    ("lodz", "Lodz"),
    ("strasse", "Strasse"),
    ("oslo-2", "Oslo"),
]

# Case and accents ignored; names that fold alike by their exact spelling (code points:
# "E" < "e" < "É"), the very same name by creation (id).
BY_NAME = [
    "analysis",
    "elodie",
    "elodie-lower",
    "elodie-acute",
    "emile",
    "eu",
    "lodz",
    "lodz-stroke",
    "orsted",
    "oslo-1",
    "oslo-2",
    "strasse",
    "strasse-eszett",
    "tour",
    "zebra",
    "zoe",
]

_LISTS = [(AUTHORS, "authors", Author), (TAGS, "tags", Tag)]


async def _make_named(sessionmaker: Sessions) -> None:
    for slug, name in CREATED:
        await make_author(sessionmaker, slug=slug, name=name)
        await make_tag(sessionmaker, slug=slug, name=name)


@pytest.fixture
async def named(sessionmaker: Sessions) -> None:
    await _make_named(sessionmaker)


async def _page(client: httpx.AsyncClient, query: str, key: str, **variables: Any) -> Any:
    return (await data(client, query, variables))[key]


def _slugs(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["slug"] for edge in page["edges"]]


async def _walk_forward(client: httpx.AsyncClient, query: str, key: str, size: int) -> list[str]:
    walked: list[str] = []
    after = None
    while True:
        page = await _page(client, query, key, first=size, after=after)
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        walked += _slugs(page)
        if not page["pageInfo"]["hasNextPage"]:
            return walked
        after = page["pageInfo"]["endCursor"]


async def _name_pages(
    sessionmaker: Sessions, model: type[Named], request: PageRequest
) -> tuple[list[str], Page[Any]]:
    async with sessionmaker() as session:
        page = await name_page(session, model, request)
    return [row.slug for row in page.rows], page


async def _walk_backward(sessionmaker: Sessions, model: type[Named], size: int) -> list[str]:
    """Backward from the end by ``last``/``before`` (the resolver's: the API pages forward)."""
    walked: list[str] = []
    before = None
    while True:
        slugs, page = await _name_pages(sessionmaker, model, PageRequest(last=size, before=before))
        assert page.has_next_page is (before is not None)
        walked = slugs + walked
        if not page.has_previous_page:
            return walked
        before = page.cursor(page.rows[0])


@pytest.mark.parametrize(("query", "key", "model"), _LISTS)
async def test_authors_and_tags_list_as_people_read_them(
    client: httpx.AsyncClient, named: None, query: str, key: str, model: type[Named]
) -> None:
    # One expected list for both databases: the same order on SQLite and PostgreSQL.
    assert _slugs(await _page(client, query, key, first=100)) == BY_NAME


@pytest.mark.parametrize(("query", "key", "model"), _LISTS)
@pytest.mark.parametrize("size", [1, 2, 3, 5, 16])
async def test_paging_by_cursor_walks_the_name_order_once(
    client: httpx.AsyncClient,
    sessionmaker: Sessions,
    named: None,
    query: str,
    key: str,
    model: type[Named],
    size: int,
) -> None:
    assert await _walk_forward(client, query, key, size) == BY_NAME
    assert await _walk_backward(sessionmaker, model, size) == BY_NAME


@pytest.mark.parametrize(("query", "key", "model"), _LISTS)
async def test_pages_between_two_cursors_hold_exactly_the_rows_between(
    client: httpx.AsyncClient,
    sessionmaker: Sessions,
    named: None,
    query: str,
    key: str,
    model: type[Named],
) -> None:
    cursors = [edge["cursor"] for edge in (await _page(client, query, key, first=100))["edges"]]
    for start in range(len(BY_NAME)):
        for end in range(start + 1, len(BY_NAME)):
            between = BY_NAME[start + 1 : end]
            around = {"after": cursors[start], "before": cursors[end]}
            forward, _ = await _name_pages(sessionmaker, model, PageRequest(first=100, **around))
            backward, _ = await _name_pages(sessionmaker, model, PageRequest(last=100, **around))
            assert forward == backward == between


async def test_a_cursor_pages_on_from_where_its_name_sorts(
    client: httpx.AsyncClient, sessionmaker: Sessions, named: None
) -> None:
    page = await _page(client, TAGS, "tags", first=100)
    emile = page["edges"][BY_NAME.index("emile")]["cursor"]
    async with sessionmaker.begin() as session:
        await session.execute(delete(Tag).where(Tag.slug == "emile"))
    # A cursor whose row is gone keeps its place.
    after_emile = await _page(client, TAGS, "tags", first=2, after=emile)
    assert _slugs(after_emile) == ["eu", "lodz"]
    # A cursor holds a name and an id, not the key: any name pages on from where it sorts.
    for name, row_id, expected in [
        ("EMMA", 0, ["eu", "lodz"]),
        ("Elodie", 0, ["elodie", "elodie-lower"]),
        ("Oslo", 0, ["oslo-1", "oslo-2"]),
        ("oslo", 0, ["strasse", "strasse-eszett"]),  # after "Oslo": "O" < "o"
        ("Ω", 0, []),
    ]:
        cursor = encode_cursor(["tags", name, row_id])
        assert _slugs(await _page(client, TAGS, "tags", first=2, after=cursor)) == expected


@pytest.mark.parametrize(
    "payload",
    [["tags", 12, 1], ["tags", "Oslo"], ["tags", "Oslo", "1"], ["tags", "O\x00slo", 1]],
)
async def test_malformed_name_cursors_are_bad_user_input(
    client: httpx.AsyncClient, named: None, payload: list[Any]
) -> None:
    body = await graphql(client, TAGS, {"first": 2, "after": encode_cursor(payload)})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] is None


def _with_parent(slugs: list[str], before: str) -> list[str]:
    # The parent, "Świat", folds to "swiat": after "Straße", before "Tour de France".
    at = slugs.index(before)
    return [*slugs[:at], "parent", *slugs[at:]]


async def test_categories_children_and_article_tags_by_name(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    parent = await make_category(sessionmaker, slug="parent", name="Świat")
    tags = []
    for slug, name in CREATED:
        await make_category(sessionmaker, slug=f"root-{slug}", name=name)
        await make_category(sessionmaker, slug=slug, name=name, parent=parent)
        tags.append(await make_tag(sessionmaker, slug=slug, name=name))
    author = await make_author(sessionmaker)
    await make_article(sessionmaker, author=author, category=parent, tags=tags, slug="story")

    # Each name is held by a root and by a child of "parent": the root was made first.
    every = [each for slug in BY_NAME for each in (f"root-{slug}", slug)]
    roots = [f"root-{slug}" for slug in BY_NAME]
    found = await data(client, CATEGORIES, {"rootsOnly": False, "slug": "parent"})
    assert [c["slug"] for c in found["categories"]] == _with_parent(every, "root-tour")
    assert [c["slug"] for c in found["category"]["children"]] == BY_NAME
    found = await data(client, CATEGORIES, {"rootsOnly": True, "slug": "parent"})
    assert [c["slug"] for c in found["categories"]] == _with_parent(roots, "root-tour")
    article = (await data(client, ARTICLE_TAGS, {"slug": "story"}))["article"]
    assert [t["slug"] for t in article["tags"]] == BY_NAME


async def test_names_written_through_the_api_take_their_place(
    client: httpx.AsyncClient, sessionmaker: Sessions, named: None
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    async with sessionmaker() as session:
        zebra = await session.scalar(select(Tag.id).where(Tag.slug == "zebra"))
    assert zebra is not None
    renamed = await graphql(
        client,
        UPDATE_TAG,
        {"id": encode_global_id("Tag", zebra), "input": {"name": "Aardvark"}},
        headers=admin,
    )
    assert renamed["data"]["updateTag"]["tag"] == {"slug": "zebra", "name": "Aardvark"}
    created = await graphql(client, CREATE_TAG, {"input": {"name": "Ägypten"}}, headers=admin)
    egypt = created["data"]["createTag"]["tag"]["slug"]
    # "aardvark" < "agypten" < "analysis".
    expected = ["zebra", egypt, *(slug for slug in BY_NAME if slug != "zebra")]
    assert _slugs(await _page(client, TAGS, "tags", first=100)) == expected


def _corpus(names: list[tuple[str, str]]) -> list[str]:
    records = [
        *(AUTHOR.record(n, slug=slug, name=name, bio=None, avatar_url=None)
          for n, (slug, name) in enumerate(names, start=1)),
        *(CATEGORY.record(n, slug=slug, name=name, description=None, parent=None)
          for n, (slug, name) in enumerate(names, start=1)),
        *(TAG.record(n, slug=slug, name=name) for n, (slug, name) in enumerate(names, start=1)),
    ]  # fmt: skip
    return [json.dumps(record, ensure_ascii=False) for record in records]


async def test_imported_names_take_their_place(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await import_corpus(sessionmaker, _corpus(CREATED))
    for query, key, _model in _LISTS:
        assert _slugs(await _page(client, query, key, first=100)) == BY_NAME
    categories = await data(client, CATEGORIES, {"rootsOnly": True, "slug": "tour"})
    assert [c["slug"] for c in categories["categories"]] == BY_NAME
    # A record whose name changed moves its row, as an API rename does.
    renamed = [(slug, "Aardvark" if slug == "zebra" else name) for slug, name in CREATED]
    await import_corpus(sessionmaker, _corpus(renamed))
    expected = ["zebra", *(slug for slug in BY_NAME if slug != "zebra")]
    for query, key, _model in _LISTS:
        assert _slugs(await _page(client, query, key, first=100)) == expected


async def test_demo_content_is_keyed(sessionmaker: Sessions) -> None:
    await load_demo(sessionmaker)
    async with sessionmaker() as session:
        for model in (Author, Category, Tag):
            rows = (await session.execute(select(model.name, model.name_key))).all()
            assert rows
            assert all(key == name_key(name) for name, key in rows)


async def test_the_name_order_is_read_from_its_index(
    client: httpx.AsyncClient, engine: AsyncEngine, named: None, dialect: str
) -> None:
    """The keyset page is a range of ``ix_tags_name_key``: no scan of the table, no sort."""
    cursor = (await _page(client, TAGS, "tags", first=3))["pageInfo"]["endCursor"]
    with sent(engine, "FROM tags") as statements:
        await _page(client, TAGS, "tags", first=3, after=cursor)
    (statement, parameters), *_counts = statements
    text = await plan(engine, dialect, statement, parameters)
    assert "ix_tags_name_key" in text, text
    assert "Sort" not in text and "TEMP B-TREE" not in text, text


@pytest.fixture
async def linguistic_client(
    dialect: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Sessions]]:
    """The app on a PostgreSQL database whose default collation is ICU's English."""
    async with app_on_icu_database(dialect, tmp_path, "en-US") as (http, app):
        yield http, app.state.sessionmaker


async def test_the_postgresql_collation_does_not_change_the_order(
    linguistic_client: tuple[httpx.AsyncClient, Sessions],
) -> None:
    client, sessionmaker = linguistic_client
    await _make_named(sessionmaker)
    for query, key, _model in _LISTS:
        assert _slugs(await _page(client, query, key, first=100)) == BY_NAME
        assert await _walk_forward(client, query, key, 3) == BY_NAME
    assert await _walk_backward(sessionmaker, Author, 3) == BY_NAME
    assert await _walk_backward(sessionmaker, Tag, 3) == BY_NAME
    # The database's own order of the names is another one ("elodie" before "Elodie").
    async with sessionmaker() as session:
        by_collation = list(await session.scalars(select(Tag.slug).order_by(Tag.name, Tag.id)))
    assert by_collation != BY_NAME
