"""Who sees drafts and scheduled articles: editors all of them, writers their own."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ArticleStatus, utcnow
from resolvers.access.viewer import ANONYMOUS, Role, Viewer
from resolvers.articles.reads import ArticleScope, article_by_id, article_counts
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


BY_AUTHOR_AND_STATUS = """
query ByAuthorAndStatus($author: String, $status: [ArticleStatus!]) {
  articles(filter: {authorSlug: $author, status: $status}) { totalCount nodes { slug } }
}
"""


async def test_a_writer_sees_its_own_scheduled_work_and_everyones_public_work(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    mine = await make_author(sessionmaker)
    theirs = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    later = utcnow() + timedelta(days=1)
    my_scheduled = await make_article(
        sessionmaker, author=mine, category=category, published_at=later
    )
    their_scheduled = await make_article(
        sessionmaker, author=theirs, category=category, published_at=later
    )
    their_public = await make_article(sessionmaker, author=theirs, category=category)
    writer = await bearer(sessionmaker, Role.WRITER, mine)

    listed = await _walk(client, writer, ["PUBLISHED"])
    assert sorted(listed) == sorted([my_scheduled.slug, their_public.slug])
    for article, seen in ((my_scheduled, True), (their_public, True), (their_scheduled, False)):
        body = await graphql(
            client, BY_ID, {"id": encode_global_id("Article", article.id)}, headers=writer
        )
        assert body["data"]["article"] == (
            {"slug": article.slug, "status": "PUBLISHED"} if seen else None
        )


async def test_status_and_the_other_filters_narrow_together(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    ada = await make_author(sessionmaker, slug="ada")
    grace = await make_author(sessionmaker, slug="grace")
    category = await make_category(sessionmaker)
    adas_draft = await make_article(
        sessionmaker, author=ada, category=category, status=ArticleStatus.DRAFT
    )
    await make_article(sessionmaker, author=grace, category=category, status=ArticleStatus.DRAFT)
    adas_public = await make_article(sessionmaker, author=ada, category=category)
    editor = await bearer(sessionmaker, Role.EDITOR)
    for status, slugs in (
        (["DRAFT"], [adas_draft.slug]),
        (["DRAFT", "PUBLISHED"], sorted([adas_draft.slug, adas_public.slug])),
        (None, [adas_public.slug]),  # no status asked: what readers see, for editors too
    ):
        body = await graphql(
            client, BY_AUTHOR_AND_STATUS, {"author": "ada", "status": status}, headers=editor
        )
        assert "errors" not in body, body
        page = body["data"]["articles"]
        assert sorted(node["slug"] for node in page["nodes"]) == slugs
        assert page["totalCount"] == len(slugs)


async def test_asking_for_statuses_needs_a_token(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    body = await graphql(client, BY_STATUS, {"status": ["PUBLISHED"]})
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Filtering by `status` needs an API token.", "UNAUTHENTICATED")
    ]


async def test_an_article_is_public_from_the_instant_it_is_published(
    sessionmaker: Sessions,
) -> None:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    at = datetime(2030, 1, 1, 12, 0, 0)
    article = await make_article(sessionmaker, author=author, category=category, published_at=at)
    # Unpublished again: a draft that keeps its old publishedAt.
    await make_article(
        sessionmaker,
        author=author,
        category=category,
        status=ArticleStatus.DRAFT,
        published_at=at - timedelta(days=1),
    )
    async with sessionmaker() as session:
        for now, public in ((at - timedelta(microseconds=1), False), (at, True)):
            found = await article_by_id(session, article.id, viewer=ANONYMOUS, now=now)
            assert (found is not None) is public
            counts = await article_counts(
                session,
                scope=ArticleScope.ALL,
                scope_ids=[],
                article_filter=None,
                viewer=Viewer(Role.EDITOR),
                now=now,
            )
            assert counts == {0: int(public)}
