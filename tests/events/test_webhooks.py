"""Webhooks end to end: managed over GraphQL, written to the outbox with the change,
delivered by the worker to a real receiver on 127.0.0.1 that checks signatures, counts
deliveries and fails on purpose."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, DeliveryStatus, OutboxEvent, WebhookDelivery
from resolvers.access.viewer import Role
from resolvers.cache_tags import article_list, node
from resolvers.events.url_policy import UrlPolicy
from resolvers.events.worker import DeliveryOptions, client, deliver_due, run
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import error_codes, graphql
from tests.support.receiver import receiver, verified

CREATE = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    webhook { id url events active } secret errors { field code message }
  }
}"""
PUBLISH = """
mutation($id: ID!) { publishArticle(id: $id) { article { id version } errors { code } } }"""
UPDATE = """
mutation($id: ID!, $title: String!, $v: Int) {
  updateArticle(id: $id, input: {title: $title}, expectedVersion: $v) {
    article { version } errors { code }
  }
}"""
DELIVERIES = """
query { webhooks { id deliveries(first: 50) { totalCount nodes {
  id eventId eventType status attempts responseStatus error nextAttemptAt deliveredAt
} } } }"""

FAST = DeliveryOptions(timeout=1.0, max_attempts=3, retry_base=0.05, poll_interval=0.05)


async def _webhook(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    url: str,
    events: list[str] | None = None,
) -> dict[str, Any]:
    body = await graphql(
        http,
        CREATE,
        {"input": {"url": url, "events": events or ["ARTICLE_PUBLISHED", "ARTICLE_UPDATED"]}},
        headers=admin,
    )
    payload: dict[str, Any] = body["data"]["createWebhook"]
    assert payload["errors"] == [], payload
    return payload


async def _deliver_all(
    sessionmaker: async_sessionmaker[AsyncSession], options: DeliveryOptions = FAST
) -> None:
    """Rounds until nothing is pending any more (retries included)."""
    async with client(options) as http:
        async with asyncio.timeout(30):
            while True:
                await deliver_due(sessionmaker, http, options)
                async with sessionmaker() as session:
                    pending = await session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
                    )
                if not pending:
                    return
                await asyncio.sleep(0.02)


async def _content(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[Any, ...]:
    author = await make_author(sessionmaker)
    parent = await make_category(sessionmaker)
    category = await make_category(sessionmaker, parent=parent)
    tag = await make_tag(sessionmaker)
    return author, parent, category, tag


async def test_publish_is_delivered_signed_with_what_it_changed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author, parent, category, tag = await _content(sessionmaker)
    article = await make_article(
        sessionmaker,
        author=author,
        category=category,
        tags=[tag],
        status=ArticleStatus.DRAFT,
    )
    async with receiver() as hook:
        created = await _webhook(client, admin, hook.url)
        hook.secret = created["secret"]
        assert created["secret"].startswith("whsec_")
        article_id = encode_global_id("Article", article.id)
        published = await graphql(client, PUBLISH, {"id": article_id}, headers=admin)
        assert published["data"]["publishArticle"]["errors"] == []
        await _deliver_all(sessionmaker)
        assert len(hook.received) == 1
        assert hook.bad_signatures == 0
        got = hook.received[0]
        assert got.headers["content-type"] == "application/json"
        assert got.headers["masthead-event-type"] == "article.published"
        assert verified(created["secret"], got.headers["masthead-signature"], got.body)
        assert not verified("whsec_other", got.headers["masthead-signature"], got.body)
        body = got.json
        assert body["id"] == got.event_id
        assert body["type"] == "article.published"
        assert body["data"]["article"] == {
            "id": article_id,
            "slug": article.slug,
            "previousSlugs": [],
            "title": article.title,
            "status": "PUBLISHED",
            "publishedAt": body["data"]["article"]["publishedAt"],
            "version": 2,
        }
        assert body["affected"] == {
            "articles": [article.slug],
            "categories": sorted([parent.slug, category.slug]),
            "authors": [author.slug],
            "tags": [tag.slug],
        }
        tags = set(body["cacheTags"])
        assert {node("Article", article.id), article_list("Category", parent.id)} <= tags
        assert {article_list("Tag", tag.id), article_list("Author", author.id)} <= tags

        # The deliveries, over GraphQL, to admins only.
        listed = await graphql(client, DELIVERIES, headers=admin)
        (webhook,) = listed["data"]["webhooks"]
        (delivery,) = webhook["deliveries"]["nodes"]
        assert delivery["id"] == got.headers["masthead-delivery-id"]
        assert delivery["eventId"] == got.event_id
        assert (delivery["status"], delivery["attempts"], delivery["responseStatus"]) == (
            "DELIVERED",
            1,
            200,
        )
        assert delivery["deliveredAt"] is not None and delivery["nextAttemptAt"] is None
        assert "secret" not in str(listed)
        editor = await bearer(sessionmaker, Role.EDITOR)
        assert error_codes(await graphql(client, DELIVERIES, headers=editor)) == ["FORBIDDEN"]
        assert error_codes(await graphql(client, DELIVERIES)) == ["UNAUTHENTICATED"]
        refused = await graphql(client, CREATE, {"input": {"url": hook.url, "events": []}})
        assert error_codes(refused) == ["UNAUTHENTICATED"]


async def test_the_event_is_written_with_the_change_or_not_at_all(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author, _, category, _ = await _content(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    await _webhook(client, admin, "http://127.0.0.1:9/unused")
    article_id = encode_global_id("Article", article.id)
    # A refused write (a stale version) leaves no event.
    refused = await graphql(
        client, UPDATE, {"id": article_id, "title": "T", "v": 99}, headers=admin
    )
    assert refused["data"]["updateArticle"]["errors"] == [{"code": "CONFLICT"}]
    done = await graphql(client, UPDATE, {"id": article_id, "title": "T2", "v": 1}, headers=admin)
    assert done["data"]["updateArticle"]["errors"] == []
    async with sessionmaker() as session:
        events = (await session.execute(select(OutboxEvent.type, OutboxEvent.subject_id))).all()
        deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert events == [("article.updated", article.id)]
    assert deliveries == 1


async def test_taxonomy_writes_fire_their_events(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    async with receiver() as hook:
        await _webhook(client, admin, hook.url, ["TAG_CHANGED", "CATEGORY_CHANGED"])
        created = await graphql(
            client,
            'mutation { createTag(input: {name: "Energy"}) { tag { id } errors { code } } }',
            headers=admin,
        )
        tag_id = created["data"]["createTag"]["tag"]["id"]
        deleted = await graphql(
            client,
            "mutation($id: ID!) { deleteTag(id: $id) { deletedId } }",
            {"id": tag_id},
            headers=admin,
        )
        assert deleted["data"]["deleteTag"]["deletedId"] == tag_id
        # An author's change goes to no webhook taking only tags and categories.
        await graphql(
            client,
            'mutation { createAuthor(input: {name: "Ann"}) { author { id } } }',
            headers=admin,
        )
        await _deliver_all(sessionmaker)
    assert [r.headers["masthead-event-type"] for r in hook.received] == ["tag.changed"] * 2
    first, second = (r.json for r in hook.received)
    assert first["data"]["tag"] == {
        "id": tag_id,
        "slug": "energy",
        "name": "Energy",
        "deleted": False,
    }
    assert second["data"]["tag"]["deleted"] is True
    assert second["affected"]["tags"] == ["energy"]
    assert first["id"] != second["id"]


async def test_failures_are_retried_with_the_same_event_id_then_failed_and_redelivered(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author, _, category, _ = await _content(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    async with receiver() as hook:
        await _webhook(client, admin, hook.url)
        hook.script = [500, "hang", 503]  # three failed attempts: FAST gives up after 3
        article_id = encode_global_id("Article", article.id)
        await graphql(client, UPDATE, {"id": article_id, "title": "New"}, headers=admin)
        await _deliver_all(sessionmaker)
        assert len(hook.received) == 3
        assert len({r.event_id for r in hook.received}) == 1
        assert len({r.headers["masthead-delivery-id"] for r in hook.received}) == 1
        listed = await graphql(client, DELIVERIES, headers=admin)
        (failed,) = listed["data"]["webhooks"][0]["deliveries"]["nodes"]
        assert (failed["status"], failed["attempts"], failed["responseStatus"]) == (
            "FAILED",
            3,
            503,
        )
        assert failed["nextAttemptAt"] is None
        again = await graphql(
            client,
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) {"
            " delivery { id eventId status attempts } errors { code } } }",
            {"id": failed["id"]},
            headers=admin,
        )
        queued = again["data"]["redeliverWebhook"]["delivery"]
        assert (queued["eventId"], queued["status"], queued["attempts"]) == (
            failed["eventId"],
            "PENDING",
            0,
        )
        await _deliver_all(sessionmaker)
        assert hook.received[-1].event_id == failed["eventId"]
        assert hook.received[-1].headers["masthead-delivery-id"] == queued["id"]
        statuses = await graphql(client, DELIVERIES, headers=admin)
        nodes = statuses["data"]["webhooks"][0]["deliveries"]["nodes"]
        assert [n["status"] for n in nodes] == ["DELIVERED", "FAILED"]
        unknown = await graphql(
            client,
            'mutation { redeliverWebhook(deliveryId: "nope") { errors { field code } } }',
            headers=admin,
        )
        assert unknown["data"]["redeliverWebhook"]["errors"] == [
            {"field": ["deliveryId"], "code": "NOT_FOUND"}
        ]


async def test_a_timeout_a_closed_port_and_a_redirect_are_failed_attempts(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author, _, category, _ = await _content(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    one_try = DeliveryOptions(timeout=0.5, max_attempts=1, retry_base=0.05, poll_interval=0.05)
    async with receiver() as hook:
        hook.then = "hang"
        await _webhook(client, admin, hook.url)
        await _webhook(client, admin, f"http://127.0.0.1:{closed_port}/hook")
        async with receiver() as bouncing:
            bouncing.then = "redirect"
            await _webhook(client, admin, bouncing.url)
            article_id = encode_global_id("Article", article.id)
            await graphql(client, UPDATE, {"id": article_id, "title": "Again"}, headers=admin)
            started = asyncio.get_running_loop().time()
            await _deliver_all(sessionmaker, one_try)
            assert asyncio.get_running_loop().time() - started < 5
            assert bouncing.elsewhere_hits == 0  # the redirect was not followed
    listed = await graphql(client, DELIVERIES, headers=admin)
    results = [
        (w["deliveries"]["nodes"][0]["status"], w["deliveries"]["nodes"][0]["responseStatus"])
        for w in listed["data"]["webhooks"]
    ]
    assert results == [("FAILED", None), ("FAILED", None), ("FAILED", 302)]
    errors = [w["deliveries"]["nodes"][0]["error"] for w in listed["data"]["webhooks"]]
    assert "time limit" in errors[0]
    assert "Connect" in errors[1]


async def test_two_workers_deliver_each_event_once_per_webhook(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author, _, category, _ = await _content(sessionmaker)
    articles = [
        await make_article(sessionmaker, author=author, category=category) for _ in range(12)
    ]
    async with receiver() as first, receiver() as second:
        await _webhook(client, admin, first.url)
        await _webhook(client, admin, second.url)
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(run(sessionmaker, FAST, stop=stop, database_url=database_url))
            for _ in range(2)
        ]
        for article in articles:
            article_id = encode_global_id("Article", article.id)
            await graphql(client, UPDATE, {"id": article_id, "title": "Edited"}, headers=admin)
        await first.wait_for(12)
        await second.wait_for(12)
        await asyncio.sleep(0.5)  # a duplicate would have come by now
        stop.set()
        await asyncio.gather(*workers)
    for hook in (first, second):
        ids = [r.event_id for r in hook.received]
        assert len(ids) == 12 and len(set(ids)) == 12
    assert {r.event_id for r in first.received} == {r.event_id for r in second.received}


async def test_production_refuses_private_addresses_unless_allowed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], app: Any
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    app.state.webhook_policy = UrlPolicy(guard_addresses=True)
    for url in (
        "http://127.0.0.1/hook",
        "http://10.1.2.3/x",
        "http://[::1]/",
        "http://169.254.169.254/",
    ):
        body = await graphql(
            client, CREATE, {"input": {"url": url, "events": ["TAG_CHANGED"]}}, headers=admin
        )
        (error,) = body["data"]["createWebhook"]["errors"]
        assert (error["field"], error["code"]) == (["url"], "INVALID")
        assert "non-public" in error["message"]
    for url in ("ftp://example.org/", "not a url", "http:///nohost"):
        body = await graphql(
            client, CREATE, {"input": {"url": url, "events": ["TAG_CHANGED"]}}, headers=admin
        )
        assert body["data"]["createWebhook"]["errors"][0]["code"] == "INVALID"
    app.state.webhook_policy = UrlPolicy(
        guard_addresses=True, allowed_hosts=frozenset({"127.0.0.1"})
    )
    allowed = await _webhook(client, admin, "http://127.0.0.1:9/hook", ["TAG_CHANGED"])
    assert allowed["webhook"]["url"] == "http://127.0.0.1:9/hook"
    # A delivery checks again: a URL no longer allowed is not sent to.
    async with receiver() as hook:
        await _webhook(client, admin, hook.url, ["TAG_CHANGED"])
        await graphql(
            client, 'mutation { createTag(input: {name: "X"}) { tag { id } } }', headers=admin
        )
        guarded = DeliveryOptions(
            timeout=1.0, max_attempts=1, retry_base=0.05, policy=UrlPolicy(guard_addresses=True)
        )
        await _deliver_all(sessionmaker, guarded)
    assert hook.received == []
    async with sessionmaker() as session:
        errors = list(await session.scalars(select(WebhookDelivery.error)))
    assert errors and all("non-public" in (error or "") for error in errors)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.WRITER])
async def test_only_admins_manage_webhooks(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], role: Role
) -> None:
    author = await make_author(sessionmaker)
    headers = await bearer(sessionmaker, role, author if role is Role.WRITER else None)
    body = await graphql(
        client,
        CREATE,
        {"input": {"url": "https://example.org/", "events": ["TAG_CHANGED"]}},
        headers=headers,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 0


async def test_update_rotate_and_delete_a_webhook(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    async with receiver() as hook:
        created = await _webhook(client, admin, "http://127.0.0.1:9/old", ["TAG_CHANGED"])
        webhook_id = created["webhook"]["id"]
        updated = await graphql(
            client,
            "mutation($id: ID!, $url: String!) { updateWebhook(id: $id, input: {url: $url,"
            " active: false}) { webhook { url events active } secret errors { code } } }",
            {"id": webhook_id, "url": hook.url},
            headers=admin,
        )
        assert updated["data"]["updateWebhook"] == {
            "webhook": {"url": hook.url, "events": ["TAG_CHANGED"], "active": False},
            "secret": None,  # shown by create and rotate alone
            "errors": [],
        }
        # Inactive: an event is not queued for it.
        tag = 'mutation { createTag(input: {name: "Paused"}) { tag { id } } }'
        await graphql(client, tag, headers=admin)
        await graphql(
            client,
            "mutation($id: ID!) { updateWebhook(id: $id, input: {active: true})"
            " { errors { code } } }",
            {"id": webhook_id},
            headers=admin,
        )
        rotated = await graphql(
            client,
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret errors { code } } }",
            {"id": webhook_id},
            headers=admin,
        )
        secret = rotated["data"]["rotateWebhookSecret"]["secret"]
        assert secret.startswith("whsec_") and secret != created["secret"]
        hook.secret = secret  # deliveries are signed with the new one
        await graphql(
            client, 'mutation { createTag(input: {name: "Live"}) { tag { id } } }', headers=admin
        )
        await _deliver_all(sessionmaker)
        assert [r.json["data"]["tag"]["name"] for r in hook.received] == ["Live"]
        assert hook.bad_signatures == 0
    deleted = await graphql(
        client,
        "mutation($id: ID!) { deleteWebhook(id: $id) { deletedId errors { code } } }",
        {"id": webhook_id},
        headers=admin,
    )
    assert deleted["data"]["deleteWebhook"] == {"deletedId": webhook_id, "errors": []}
    assert (await graphql(client, DELIVERIES, headers=admin))["data"]["webhooks"] == []
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    missing = await graphql(
        client,
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { errors { field code } } }",
        {"id": webhook_id},
        headers=admin,
    )
    assert missing["data"]["rotateWebhookSecret"]["errors"] == [
        {"field": ["id"], "code": "NOT_FOUND"}
    ]


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    ... on Webhook { url events }
    ... on WebhookDelivery { eventType status }
  }
}"""


async def test_node_finds_webhooks_and_deliveries_for_admins_alone(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    editor = await bearer(sessionmaker, Role.EDITOR)
    created = await _webhook(client, admin, "http://127.0.0.1:9/hook", ["TAG_CHANGED"])
    await graphql(
        client, 'mutation { createTag(input: {name: "Node"}) { tag { id } } }', headers=admin
    )
    listed = await graphql(client, DELIVERIES, headers=admin)
    (delivery,) = listed["data"]["webhooks"][0]["deliveries"]["nodes"]
    webhook_id = created["webhook"]["id"]

    seen = await graphql(client, NODE, {"id": webhook_id}, headers=admin)
    assert seen["data"]["node"] == {
        "__typename": "Webhook",
        "url": "http://127.0.0.1:9/hook",
        "events": ["TAG_CHANGED"],
    }
    seen = await graphql(client, NODE, {"id": delivery["id"]}, headers=admin)
    assert seen["data"]["node"] == {
        "__typename": "WebhookDelivery",
        "eventType": "TAG_CHANGED",
        "status": "PENDING",
    }
    for node_id in (webhook_id, delivery["id"]):
        for headers in (None, editor):
            assert (await graphql(client, NODE, {"id": node_id}, headers=headers))["data"] == {
                "node": None
            }
    unknown = encode_global_id("Webhook", 999_999)
    assert (await graphql(client, NODE, {"id": unknown}, headers=admin))["data"] == {"node": None}
