"""Concurrent writes at the real app, and mutations that fail half-way, on both databases.

Requests are fired together with ``asyncio.gather`` over the ASGI client: each runs in its
own session and connection, so they race in the database as separate clients would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleTag, Author, Category, Tag, utcnow
from resolvers.access.viewer import Role
from resolvers.articles import writes as article_writes
from resolvers.errors import ErrorCode, Rejected
from resolvers.global_ids import encode_global_id
from resolvers.taxonomy import writes as taxonomy_writes
from resolvers.transaction import Raced
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import error_codes, graphql

UPDATE_ARTICLE = """
mutation Update($id: ID!, $input: UpdateArticleInput!, $expectedVersion: Int) {
  updateArticle(id: $id, input: $input, expectedVersion: $expectedVersion) {
    article { title excerpt body version tags { slug } }
    errors { field message code }
  }
}
"""
CREATE_ARTICLE = """
mutation Create($input: CreateArticleInput!) {
  createArticle(input: $input) { article { slug } errors { field code } }
}
"""
UPDATE_CATEGORY = """
mutation Move($id: ID!, $input: UpdateCategoryInput!) {
  updateCategory(id: $id, input: $input) { category { slug } errors { field code } }
}
"""
DELETE_TAG = "mutation($id: ID!) { deleteTag(id: $id) { deletedId errors { code } } }"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Long enough that every racing request has read before any of them writes.
_OVERLAP_SECONDS = 0.2


def _slowed(function: F) -> F:
    async def slowed(*args: Any, **kwargs: Any) -> Any:
        result = await function(*args, **kwargs)
        await asyncio.sleep(_OVERLAP_SECONDS)
        return result

    return slowed  # type: ignore[return-value]  # same signature as the wrapped function


async def _article(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[Article, Author]:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category, title="Start")
    return article, author


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], pk: int) -> Article:
    async with sessionmaker() as session:
        row = await session.get(Article, pk)
    assert row is not None
    return row


@pytest.mark.parametrize("overlap", [False, True], ids=["natural", "forced-overlap"])
async def test_concurrent_updates_with_the_same_version_have_exactly_one_winner(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    overlap: bool,
) -> None:
    article, _ = await _article(sessionmaker)
    editor = await bearer(sessionmaker, Role.EDITOR)
    if overlap:
        # Both requests read version 1 and pass their checks before either writes, so only
        # the guarded UPDATE (or PostgreSQL's row lock) can stop the second one.
        monkeypatch.setattr(article_writes, "_validated", _slowed(article_writes._validated))
    gid = encode_global_id("Article", article.id)
    bodies = await asyncio.gather(
        *(
            graphql(
                client,
                UPDATE_ARTICLE,
                {"id": gid, "input": {"title": f"Edit {n}"}, "expectedVersion": 1},
                headers=editor,
            )
            for n in (1, 2)
        )
    )
    payloads = [body["data"]["updateArticle"] for body in bodies]
    winners = [p for p in payloads if p["errors"] == []]
    losers = [p for p in payloads if p["errors"]]
    assert len(winners) == 1 and len(losers) == 1, payloads
    assert winners[0]["article"]["version"] == 2
    assert losers[0]["article"] is None
    assert [e["code"] for e in losers[0]["errors"]] == ["CONFLICT"]
    stored = await _stored(sessionmaker, article.id)
    assert (stored.title, stored.version) == (winners[0]["article"]["title"], 2)


async def test_concurrent_updates_without_a_version_all_land(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``expectedVersion`` nobody is refused and nothing is lost: each change lands."""
    article, _ = await _article(sessionmaker)
    tag = await make_tag(sessionmaker, slug="green")
    editor = await bearer(sessionmaker, Role.EDITOR)
    monkeypatch.setattr(article_writes, "_validated", _slowed(article_writes._validated))
    gid = encode_global_id("Article", article.id)
    changes: list[dict[str, Any]] = [
        {"title": "New title"},
        {"excerpt": "New excerpt."},
        {"body": "<p>New body.</p>"},
        {"tagIds": [encode_global_id("Tag", tag.id)]},
    ]
    bodies = await asyncio.gather(
        *(
            graphql(client, UPDATE_ARTICLE, {"id": gid, "input": change}, headers=editor)
            for change in changes
        )
    )
    versions = sorted(body["data"]["updateArticle"]["article"]["version"] for body in bodies)
    assert versions == [2, 3, 4, 5]
    stored = await _stored(sessionmaker, article.id)
    assert (stored.title, stored.excerpt, stored.body, stored.version) == (
        "New title",
        "New excerpt.",
        "<p>New body.</p>",
        5,
    )
    async with sessionmaker() as session:
        assert list(await session.scalars(select(ArticleTag.tag_id))) == [tag.id]


async def test_concurrent_creates_with_one_title_get_distinct_slugs(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    editor = await bearer(sessionmaker, Role.EDITOR)
    input = {
        "title": "Same title",
        "body": "<p>x</p>",
        "authorId": encode_global_id("Author", author.id),
        "categoryId": encode_global_id("Category", category.id),
    }
    bodies = await asyncio.gather(
        *(graphql(client, CREATE_ARTICLE, {"input": input}, headers=editor) for _ in range(4))
    )
    slugs = sorted(body["data"]["createArticle"]["article"]["slug"] for body in bodies)
    assert slugs == ["same-title", "same-title-2", "same-title-3", "same-title-4"]


async def test_concurrent_moves_cannot_make_a_cycle(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A under B and B under A, at once: each check alone passes, together they would loop."""
    a = await make_category(sessionmaker, name="A", slug="a")
    b = await make_category(sessionmaker, name="B", slug="b")
    admin = await bearer(sessionmaker, Role.ADMIN)
    monkeypatch.setattr(
        taxonomy_writes, "_category_values", _slowed(taxonomy_writes._category_values)
    )
    moves = [(a, b), (b, a)]
    bodies = await asyncio.gather(
        *(
            graphql(
                client,
                UPDATE_CATEGORY,
                {
                    "id": encode_global_id("Category", child.id),
                    "input": {
                        "name": child.name,
                        "parentId": encode_global_id("Category", parent.id),
                    },
                },
                headers=admin,
            )
            for child, parent in moves
        )
    )
    codes = sorted([e["code"] for e in body["data"]["updateCategory"]["errors"]] for body in bodies)
    assert codes == [[], ["CYCLE"]], bodies
    async with sessionmaker() as session:
        parents = set(await session.scalars(select(Category.parent_id)))
    assert None in parents  # one of the two is still a root


# --- one transaction per mutation ------------------------------------------------------------


class _Boom(RuntimeError):
    """Forced failure half-way through a write."""


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise _Boom("forced failure after the first write")


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_create_failing_after_its_first_write_leaves_no_trace(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    tag = await make_tag(sessionmaker)
    editor = await bearer(sessionmaker, Role.EDITOR)
    # The article row is INSERTed (and flushed) before the tags are written.
    monkeypatch.setattr(article_writes, "_add_tags", _boom)
    input = {
        "title": "Half done",
        "body": "<p>x</p>",
        "authorId": encode_global_id("Author", author.id),
        "categoryId": encode_global_id("Category", category.id),
        "tagIds": [encode_global_id("Tag", tag.id)],
    }
    body = await graphql(client, CREATE_ARTICLE, {"input": input}, headers=editor)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "forced" not in str(body)  # masked
    assert await _count(sessionmaker, Article) == 0
    assert await _count(sessionmaker, ArticleTag) == 0


async def test_an_update_failing_after_its_first_write_leaves_no_trace(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    article, _ = await _article(sessionmaker)
    tag = await make_tag(sessionmaker)
    editor = await bearer(sessionmaker, Role.EDITOR)
    # The guarded UPDATE (title, version) runs before the tags are replaced.
    monkeypatch.setattr(article_writes, "_replace_tags", _boom)
    gid = encode_global_id("Article", article.id)
    input = {"title": "Changed", "tagIds": [encode_global_id("Tag", tag.id)]}
    body = await graphql(client, UPDATE_ARTICLE, {"id": gid, "input": input}, headers=editor)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    stored = await _stored(sessionmaker, article.id)
    assert (stored.title, stored.version) == ("Start", 1)
    assert await _count(sessionmaker, ArticleTag) == 0


async def test_a_tag_delete_failing_half_way_leaves_no_trace(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    tag = await make_tag(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category, tags=[tag])
    admin = await bearer(sessionmaker, Role.ADMIN)
    # Its articles are written (version + 1) before the tag is taken off and deleted.
    monkeypatch.setattr(taxonomy_writes, "delete", _boom)
    body = await graphql(client, DELETE_TAG, {"id": encode_global_id("Tag", tag.id)}, headers=admin)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert (await _stored(sessionmaker, article.id)).version == 1
    assert await _count(sessionmaker, Tag) == 1
    assert await _count(sessionmaker, ArticleTag) == 1


async def test_the_version_guard_refuses_a_write_on_a_stale_read(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The last line of defence, below the locks: UPDATE ... WHERE version = <read>."""
    article, _ = await _article(sessionmaker)
    async with sessionmaker() as session:
        stale = await session.get(Article, article.id)
    assert stale is not None
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Article).where(Article.id == article.id).values(version=Article.version + 1)
        )
    now = utcnow()
    async with sessionmaker.begin() as session:
        with pytest.raises(Rejected) as rejected:
            await article_writes._write(session, stale, {"title": "Lost"}, 1, now)
    assert [e.code for e in rejected.value.errors] == [ErrorCode.CONFLICT]
    async with sessionmaker.begin() as session:
        with pytest.raises(Raced):
            await article_writes._write(session, stale, {"title": "Lost"}, None, now)
    stored = await _stored(sessionmaker, article.id)
    assert (stored.title, stored.version) == ("Start", 2)
