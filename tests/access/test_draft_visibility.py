"""Who sees drafts and scheduled articles: editors all of them, writers their own."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ArticleStatus, utcnow
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import graphql

Sessions = async_sessionmaker[AsyncSession]

BY_STATUS = """
query ByStatus($status: [ArticleStatus!], $after: String) {
  articles(first: 2, after: $after, filter: {status: $status}) {
    nodes { slug status }
    pageInfo { hasNextPage endCursor }
  }
}
"""

BY_ID = """
query ById($id: ID!) { article(id: $id) { slug status } }
"""


async def _walk(client: httpx.AsyncClient, headers: dict[str, str], status: list[str]) -> list[str]:
    slugs: list[str] = []
    after = None
    while True:
        body = await graphql(client, BY_STATUS, {"status": status, "after": after}, headers=headers)
        assert "errors" not in body, body
        page = body["data"]["articles"]
        slugs += [node["slug"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return slugs
        after = page["pageInfo"]["endCursor"]


async def test_editors_page_through_drafts_and_published_together(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    published = [
        await make_article(sessionmaker, author=author, category=category, days_ago=d)
        for d in (3, 1)
    ]
    drafts = [
        await make_article(
            sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
        )
        for _ in range(3)
    ]
    scheduled = await make_article(
        sessionmaker, author=author, category=category, published_at=utcnow() + timedelta(days=2)
    )
    editor = await bearer(sessionmaker, Role.EDITOR)
    everything = await _walk(client, editor, ["DRAFT", "PUBLISHED"])
    # Drafts order by creation time (they have no publishedAt), all of them exactly once.
    assert sorted(everything) == sorted(a.slug for a in [*published, *drafts, scheduled])
    assert len(everything) == len(set(everything)) == 6
    assert everything.index(scheduled.slug) == 0
    assert await _walk(client, editor, ["DRAFT"]) == [d.slug for d in reversed(drafts)]


async def test_writers_see_their_own_drafts_only(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    mine = await make_author(sessionmaker)
    theirs = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    my_draft = await make_article(
        sessionmaker, author=mine, category=category, status=ArticleStatus.DRAFT
    )
    their_draft = await make_article(
        sessionmaker, author=theirs, category=category, status=ArticleStatus.DRAFT
    )
    public = await make_article(sessionmaker, author=theirs, category=category)
    writer = await bearer(sessionmaker, Role.WRITER, mine)

    assert await _walk(client, writer, ["DRAFT"]) == [my_draft.slug]
    assert sorted(await _walk(client, writer, ["DRAFT", "PUBLISHED"])) == sorted(
        [my_draft.slug, public.slug]
    )
    own = await graphql(
        client, BY_ID, {"id": encode_global_id("Article", my_draft.id)}, headers=writer
    )
    assert own["data"]["article"] == {"slug": my_draft.slug, "status": "DRAFT"}
    other = await graphql(
        client, BY_ID, {"id": encode_global_id("Article", their_draft.id)}, headers=writer
    )
    assert other["data"]["article"] is None
    anonymous = await graphql(client, BY_ID, {"id": encode_global_id("Article", my_draft.id)})
    assert anonymous["data"]["article"] is None
