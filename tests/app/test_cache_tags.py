"""Cache tags: every shared answer names the nodes and lists it shows, in ``Cache-Tag``,
``Surrogate-Key`` and ``extensions.apolloCacheTags``; a write names what it made stale."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, CacheInvalidation
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.cache_invalidations import tag_keys
from resolvers.global_ids import encode_global_id
from tests.support.apps import client_of_app_with
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import graphql

Sessions = async_sessionmaker[AsyncSession]

HOME = "{ articles(first: 5) { totalCount nodes { slug author { name } category { name } } } }"


async def _get(client: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    """GET ``query``, with ``headers`` named in Python (``if_none_match``: If-None-Match)."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return await client.get("/graphql", params={"query": query}, headers=sent)


def _tags(response: httpx.Response) -> list[str]:
    """The tags an answer names, after checking its three places agree."""
    cache_tag = response.headers["cache-tag"].split(",")
    assert response.headers["surrogate-key"].split(" ") == cache_tag
    assert response.json()["extensions"]["apolloCacheTags"] == cache_tag
    assert cache_tag == sorted(cache_tag)
    return cache_tag


async def _seed(sessionmaker: Sessions) -> list[Article]:
    author = await make_author(sessionmaker)
    parent = await make_category(sessionmaker)
    child = await make_category(sessionmaker, parent=parent)
    tag = await make_tag(sessionmaker)
    return [
        await make_article(sessionmaker, author=author, category=category, tags=[tag])
        for category in (parent, child)
    ]


async def test_an_answer_names_each_node_and_list_it_shows(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    first, second = await _seed(sessionmaker)
    tags = _tags(await _get(client, HOME))
    assert tags == sorted(
        {
            "all",
            "articles",
            f"article:{first.id}",
            f"article:{second.id}",
            f"author:{first.author_id}",
            f"category:{first.category_id}",
            f"category:{second.category_id}",
        }
    )
    nested = _tags(
        await _get(
            client,
            "{ categories { slug ancestors { slug } articleCount } "
            "tags(first: 5) { nodes { articles(first: 1) { nodes { slug } } } } }",
        )
    )
    assert {
        "categories",
        f"category:{first.category_id}:articles",
        f"category:{second.category_id}:articles",
        "tags",
    } <= set(nested)
    assert any(tag.startswith("tag:") and tag.endswith(":articles") for tag in nested)


async def test_related_posts_name_their_list_and_the_newest_when_filled_by_them(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    first, second = await _seed(sessionmaker)
    query = '{ article(slug: "%s") { relatedPosts(first: %d) { slug } } }'
    ranked = _tags(await _get(client, query % (first.slug, 1)))
    assert f"article:{first.id}:related" in ranked
    assert f"article:{second.id}" in ranked
    assert "newest" not in ranked
    # Asked for more than there are: a publication anywhere may add one.
    short = _tags(await _get(client, query % (first.slug, 5)))
    assert "newest" in short


async def test_a_lookup_that_finds_nothing_names_what_could_make_it_find(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    draft = await make_article(
        sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
    )
    query = (
        '{ article(slug: "%s") { slug } category(slug: "nope") { slug } '
        'author(slug: "nope") { slug } tag(slug: "nope") { slug } node(id: "%s") { id } }'
    )
    tags = _tags(await _get(client, query % (draft.slug, encode_global_id("Article", draft.id))))
    assert tags == ["all", "article:missing", "author:missing", "category:missing", "tag:missing"]


async def test_private_answers_name_no_tags(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await _seed(sessionmaker)
    token = await bearer(sessionmaker, Role.EDITOR)
    answers = [
        await _get(client, HOME, **token),
        await client.post("/graphql", json={"query": HOME}),
        await _get(client, "{ articles(first: 500) { totalCount } }"),
    ]
    for response in answers:
        assert "cache-tag" not in response.headers
        assert "surrogate-key" not in response.headers
        assert "apolloCacheTags" not in (response.json().get("extensions") or {})


async def test_an_answer_naming_more_than_a_header_holds_names_none_and_is_revalidated(
    settings: Settings, sessionmaker: Sessions
) -> None:
    await _seed(sessionmaker)
    async with client_of_app_with(settings, cache_tags_max_bytes=40) as client:
        response = await _get(client, HOME)
        assert response.headers["cache-control"] == "public, no-cache"
        assert "cache-tag" not in response.headers
        assert "apolloCacheTags" not in response.json()["extensions"]
        # Masthead's own cache still keeps it, and knows every tag.
        again = await _get(client, HOME, if_none_match=response.headers["etag"])
        assert (again.status_code, again.headers["masthead-cache"]) == (304, "hit")
        assert again.headers["cache-control"] == "public, no-cache"


async def _recorded(sessionmaker: Sessions) -> set[int]:
    """The tag keys the latest write recorded in the invalidation log."""
    async with sessionmaker() as session:
        latest = (
            select(CacheInvalidation.seq).where(CacheInvalidation.tag_key == 0).scalar_subquery()
        )
        found = await session.scalars(
            select(CacheInvalidation.tag_key).where(
                CacheInvalidation.seq == latest, CacheInvalidation.tag_key != 0
            )
        )
        return set(found)


async def test_a_publish_records_the_article_its_lists_lookups_and_the_newest(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    root = await make_category(sessionmaker)
    leaf = await make_category(sessionmaker, parent=root)
    tag = await make_tag(sessionmaker)
    draft = await make_article(
        sessionmaker, author=author, category=leaf, tags=[tag], status=ArticleStatus.DRAFT
    )
    token = await bearer(sessionmaker, Role.EDITOR)
    body = await graphql(
        client,
        "mutation($id: ID!) { publishArticle(id: $id) { errors { code } } }",
        {"id": encode_global_id("Article", draft.id)},
        headers=token,
    )
    assert body["data"]["publishArticle"]["errors"] == []
    expected = {
        f"article:{draft.id}",
        f"category:{leaf.id}:articles",
        f"category:{root.id}:articles",
        f"author:{author.id}:articles",
        f"tag:{tag.id}:articles",
        "articles",
        "search",
        "newest",
        "article:missing",
        "changes",  # the changes feed shows its event
    }
    assert await _recorded(sessionmaker) == set(tag_keys(expected))


async def test_a_draft_edit_records_nothing(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    draft = await make_article(
        sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
    )
    before = await _recorded(sessionmaker)
    token = await bearer(sessionmaker, Role.EDITOR)
    body = await graphql(
        client,
        'mutation($id: ID!) { updateArticle(id: $id, input: {title: "Again"}) '
        "{ errors { code } } }",
        {"id": encode_global_id("Article", draft.id)},
        headers=token,
    )
    assert body["data"]["updateArticle"]["errors"] == []
    assert await _recorded(sessionmaker) == before
