"""Scheduling fires: a scheduled publish fires ``article.published`` when its time comes,
and a scheduled unpublish hides the article from every read at its instant and fires
``article.unpublished``. With a controllable clock (``fire_due(now=...)``), and for real
with a worker running and a few seconds' delay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, Author, Category, OutboxEvent, utcnow
from resolvers.access.viewer import ANONYMOUS, Role
from resolvers.articles.reads import article_by_id
from resolvers.events.schedule import fire_due
from resolvers.events.worker import DeliveryOptions, run
from resolvers.global_ids import encode_global_id
from resolvers.publishing_schedule import next_scheduled_change
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import graphql
from tests.support.receiver import receiver

PUBLISH = """
mutation($id: ID!, $at: DateTime) {
  publishArticle(id: $id, publishAt: $at) { article { status publishedAt } errors { code } }
}"""
UNPUBLISH = """
mutation($id: ID!, $at: DateTime) {
  unpublishArticle(id: $id, at: $at) {
    article { status publishedAt unpublishAt version } errors { field code }
  }
}"""
WEBHOOK = """
mutation($url: String!) {
  createWebhook(input: {url: $url, events: [ARTICLE_PUBLISHED, ARTICLE_UNPUBLISHED]}) {
    secret
  }
}"""
FAST = DeliveryOptions(timeout=1.0, max_attempts=2, retry_base=0.05, poll_interval=0.05)


async def _writer(
    sessionmaker: async_sessionmaker[AsyncSession], role: Role = Role.EDITOR
) -> tuple[dict[str, str], Author, Category]:
    """A token, and an author and category to write under."""
    headers = await bearer(sessionmaker, role)
    return headers, await make_author(sessionmaker), await make_category(sessionmaker)


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


async def _events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, int]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OutboxEvent.type, OutboxEvent.subject_id).order_by(OutboxEvent.id)
        )
        return [(kind, subject) for kind, subject in rows]


async def test_a_scheduled_publish_fires_once_when_its_time_comes(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    editor, author, category = await _writer(sessionmaker, Role.EDITOR)
    draft = await make_article(sessionmaker, author=author, category=category, status=_draft())
    article_id = encode_global_id("Article", draft.id)
    at = utcnow().replace(microsecond=0) + timedelta(hours=1)
    body = await graphql(client, PUBLISH, {"id": article_id, "at": _iso(at)}, headers=editor)
    assert body["data"]["publishArticle"]["errors"] == []
    assert await _events(sessionmaker) == []  # scheduled: nothing public changed yet
    assert await fire_due(sessionmaker, now=at - timedelta(seconds=1)) == 0
    # Moved later before its time: it fires at the new time only.
    later = at + timedelta(minutes=30)
    await graphql(client, PUBLISH, {"id": article_id, "at": _iso(later)}, headers=editor)
    assert await fire_due(sessionmaker, now=at + timedelta(seconds=1)) == 0
    assert await fire_due(sessionmaker, now=later) == 1
    assert await fire_due(sessionmaker, now=later + timedelta(hours=1)) == 0  # once
    assert await _events(sessionmaker) == [("article.published", draft.id)]
    async with sessionmaker() as session:
        body_text = await session.scalar(select(OutboxEvent.body))
        row = await session.get(Article, draft.id)
    assert row is not None and row.announce_at is None
    assert body_text is not None and f'"publishedAt":"{_iso(later)}"' in body_text


async def test_a_scheduled_publish_cancelled_before_its_time_fires_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    editor, author, category = await _writer(sessionmaker, Role.EDITOR)
    draft = await make_article(sessionmaker, author=author, category=category, status=_draft())
    article_id = encode_global_id("Article", draft.id)
    at = utcnow() + timedelta(hours=1)
    await graphql(client, PUBLISH, {"id": article_id, "at": _iso(at)}, headers=editor)
    await graphql(client, UNPUBLISH, {"id": article_id}, headers=editor)
    assert await fire_due(sessionmaker, now=at + timedelta(hours=1)) == 0
    assert await _events(sessionmaker) == []


async def test_a_scheduled_unpublish_hides_the_article_at_its_instant(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    editor, author, category = await _writer(sessionmaker, Role.EDITOR)
    tag = await make_tag(sessionmaker)
    expiring = await make_article(
        sessionmaker, author=author, category=category, tags=[tag], title="Licensed wire story"
    )
    other = await make_article(sessionmaker, author=author, category=category, tags=[tag])
    expiring_id = encode_global_id("Article", expiring.id)
    now = utcnow()
    at = now + timedelta(seconds=2)
    scheduled = await graphql(
        client, UNPUBLISH, {"id": expiring_id, "at": _iso(at)}, headers=editor
    )
    written = scheduled["data"]["unpublishArticle"]["article"]
    assert written["status"] == "PUBLISHED"
    assert datetime.fromisoformat(written["unpublishAt"]) == at.replace(tzinfo=UTC)
    async with sessionmaker() as session:
        assert await next_scheduled_change(session, after=now) == at
    reads = await _reads(client, expiring_id, encode_global_id("Article", other.id))
    assert reads == {"node": True, "listed": True, "count": 2, "related": True, "search": True}
    anonymous = await graphql(
        client,
        "query($id: ID!) { node(id: $id) { ... on Article { unpublishAt } } }",
        {"id": expiring_id},
    )
    assert anonymous["data"]["node"] == {"unpublishAt": None}  # editors only
    # The visibility rule at the boundary: public before its instant, hidden from it on.
    async with sessionmaker() as session:
        for moment, shown in ((at - timedelta(microseconds=1), True), (at, False)):
            found = await article_by_id(session, expiring.id, viewer=ANONYMOUS, now=moment)
            assert (found is not None) == shown, moment
    # For real, no worker running: every read hides it once the instant has passed.
    await asyncio.sleep(max(0.0, (at - utcnow()).total_seconds()) + 0.05)
    reads = await _reads(client, expiring_id, encode_global_id("Article", other.id))
    assert reads == {"node": False, "listed": False, "count": 1, "related": False, "search": False}
    # The worker then makes it a draft and fires article.unpublished.
    assert await fire_due(sessionmaker, now=utcnow()) == 1
    assert await _events(sessionmaker) == [
        ("article.updated", expiring.id),  # scheduling the unpublish wrote the article
        ("article.unpublished", expiring.id),
    ]
    async with sessionmaker() as session:
        row = await session.get(Article, expiring.id, populate_existing=True)
    assert row is not None
    assert (row.status, row.published_at, row.unpublish_at, row.version) == ("draft", None, None, 3)


async def test_unpublish_at_is_refused_where_it_means_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    editor, author, category = await _writer(sessionmaker, Role.EDITOR)
    draft = await make_article(sessionmaker, author=author, category=category, status=_draft())
    at = _iso(utcnow() + timedelta(hours=1))
    body = await graphql(
        client, UNPUBLISH, {"id": encode_global_id("Article", draft.id), "at": at}, headers=editor
    )
    assert body["data"]["unpublishArticle"]["errors"] == [{"field": ["at"], "code": "INVALID"}]
    scheduled = await make_article(
        sessionmaker, author=author, category=category, published_at=utcnow() + timedelta(days=2)
    )
    body = await graphql(
        client,
        UNPUBLISH,
        {"id": encode_global_id("Article", scheduled.id), "at": at},
        headers=editor,
    )
    assert body["data"]["unpublishArticle"]["errors"] == [{"field": ["at"], "code": "INVALID"}]
    # A time already past unpublishes now.
    public = await make_article(sessionmaker, author=author, category=category)
    past = _iso(utcnow() - timedelta(minutes=1))
    body = await graphql(
        client,
        UNPUBLISH,
        {"id": encode_global_id("Article", public.id), "at": past},
        headers=editor,
    )
    assert body["data"]["unpublishArticle"]["article"]["status"] == "DRAFT"


async def test_with_a_worker_running_scheduled_changes_fire_within_seconds(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    admin, author, category = await _writer(sessionmaker, Role.ADMIN)
    draft = await make_article(sessionmaker, author=author, category=category, status=_draft())
    article_id = encode_global_id("Article", draft.id)
    async with receiver() as hook:
        created = await graphql(client, WEBHOOK, {"url": hook.url}, headers=admin)
        hook.secret = created["data"]["createWebhook"]["secret"]
        stop = asyncio.Event()
        worker = asyncio.create_task(run(sessionmaker, FAST, stop=stop, database_url=database_url))
        try:
            publish_at = utcnow() + timedelta(seconds=2)
            await graphql(
                client, PUBLISH, {"id": article_id, "at": _iso(publish_at)}, headers=admin
            )
            unpublish_at = publish_at + timedelta(seconds=2)
            body = await graphql(
                client, UNPUBLISH, {"id": article_id, "at": _iso(unpublish_at)}, headers=admin
            )
            assert body["data"]["unpublishArticle"]["errors"] == []
            await hook.wait_for(2, timeout=20)
        finally:
            stop.set()
            await worker
    published, unpublished = hook.received
    assert published.headers["masthead-event-type"] == "article.published"
    assert unpublished.headers["masthead-event-type"] == "article.unpublished"
    assert hook.bad_signatures == 0
    epoch = datetime(1970, 1, 1)
    late_publish = published.at - (publish_at - epoch).total_seconds()
    late_unpublish = unpublished.at - (unpublish_at - epoch).total_seconds()
    assert 0 <= late_publish < 5 and 0 <= late_unpublish < 5, (late_publish, late_unpublish)


async def _reads(client: httpx.AsyncClient, article_id: str, other_id: str) -> dict[str, Any]:
    body = await graphql(
        client,
        """query($id: ID!, $other: ID!) {
          node(id: $id) { id }
          articles(first: 10) { totalCount nodes { id } }
          other: node(id: $other) { ... on Article { relatedPosts(first: 5) { id } } }
          search(query: "licensed wire story") { nodes { id } }
        }""",
        {"id": article_id, "other": other_id},
    )
    data = body["data"]
    return {
        "node": data["node"] is not None,
        "listed": article_id in [n["id"] for n in data["articles"]["nodes"]],
        "count": data["articles"]["totalCount"],
        "related": article_id in [n["id"] for n in data["other"]["relatedPosts"]],
        "search": article_id in [n["id"] for n in data["search"]["nodes"]],
    }


def _draft() -> ArticleStatus:
    return ArticleStatus.DRAFT
