"""The changes feed: the outbox in commit order, as the caller may see it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import data, error_codes, graphql
from tests.support.statements import StatementCounter

FEED = """
query($after: String, $first: Int) {
  changes(after: $after, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { kind typename id slug occurredAt node { id ... on Article { title } } }
  }
}"""

RETITLE = """
mutation($id: ID!) { updateArticle(id: $id, input: {title: "Edited"}) { errors { code } } }"""


async def _write(client: httpx.AsyncClient, headers: dict[str, str], query: str, **v: Any) -> Any:
    body = await graphql(client, query, v, headers=headers)
    assert "errors" not in body, body
    return body["data"]


async def test_a_builder_keeping_the_last_cursor_gets_exactly_what_changed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    story = await make_article(sessionmaker, author=author, category=category)
    story_id = encode_global_id("Article", story.id)
    start = await data(client, FEED)
    assert start["changes"]["nodes"] == [] and start["changes"]["totalCount"] == 0

    await _write(
        client,
        admin,
        RETITLE,
        id=story_id,
    )
    draft = await _write(
        client,
        admin,
        'mutation($a: ID!, $c: ID!) { createArticle(input: {title: "Draft", body: "<p>x</p>",'
        " authorId: $a, categoryId: $c}) { article { id } } }",
        a=encode_global_id("Author", author.id),
        c=encode_global_id("Category", category.id),
    )
    tag = await _write(
        client, admin, 'mutation { createTag(input: {name: "Energy"}) { tag { id } } }'
    )
    await _write(
        client,
        admin,
        "mutation($id: ID!) { unpublishArticle(id: $id) { errors { code } } }",
        id=story_id,
    )
    first_page = (await data(client, FEED, {"first": 2}))["changes"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert first_page["totalCount"] == 3  # the draft changed nothing anyone else sees
    rest = (await data(client, FEED, {"after": first_page["pageInfo"]["endCursor"]}))["changes"]
    assert rest["totalCount"] == 1 and rest["pageInfo"]["hasNextPage"] is False
    changes = [*first_page["nodes"], *rest["nodes"]]
    assert [(c["kind"], c["typename"], c["id"]) for c in changes] == [
        ("UPSERT", "Article", story_id),
        ("UPSERT", "Tag", tag["createTag"]["tag"]["id"]),
        ("REMOVE", "Article", story_id),
    ]
    # The node as the anonymous caller may see it now: the article is a draft again.
    assert changes[0]["node"] is None and changes[0]["slug"] == story.slug
    assert changes[1]["node"] == {"id": tag["createTag"]["tag"]["id"]}
    assert draft["createArticle"]["article"]["id"] not in str(changes)

    # Keeping the last cursor: only what changed since.
    cursor = rest["pageInfo"]["endCursor"]
    await _write(
        client,
        admin,
        "mutation($id: ID!) { deleteTag(id: $id) { deletedId } }",
        id=tag["createTag"]["tag"]["id"],
    )
    since = (await data(client, FEED, {"after": cursor}))["changes"]
    assert [(c["kind"], c["typename"]) for c in since["nodes"]] == [("REMOVE", "Tag")]
    assert since["nodes"][0]["node"] is None
    assert (await data(client, FEED, {"after": since["pageInfo"]["endCursor"]}))["changes"][
        "nodes"
    ] == []


async def test_the_feed_costs_the_same_statements_whatever_the_page_size(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    for _ in range(6):
        article = await make_article(sessionmaker, author=author, category=category)
        await _write(
            client,
            admin,
            RETITLE,
            id=encode_global_id("Article", article.id),
        )
    counts = []
    for first in (1, 6):
        statements.reset()
        page = (await data(client, FEED, {"first": first}))["changes"]
        assert len(page["nodes"]) == first
        counts.append(statements.count)
    assert counts[0] == counts[1], counts


async def test_a_foreign_cursor_is_refused(client: httpx.AsyncClient) -> None:
    body = await graphql(client, FEED, {"after": "bm9wZQ"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
