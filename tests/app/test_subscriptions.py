"""Subscriptions (SPEC "Events", Subscriptions) over graphql-transport-ws at /graphql, with a
real WebSocket client against a live uvicorn: visibility as the subscriber's own, a token in
``connection_init``, a category's subtree, scheduled publishes arriving at their instant, the
limits of a connection, and announcements crossing processes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection

from db.models import Article, ArticleStatus, Author, Category, utcnow
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.live_server import LiveServer, live_server
from tests.support.served import served

Sessions = async_sessionmaker[AsyncSession]

PUBLISHED = "subscription P($c: String) { articlePublished(categorySlug: $c) { slug title } }"
CHANGED = "subscription C($id: ID!) { articleChanged(id: $id) { slug title status version } }"
PUBLISH = """
mutation P($id: ID!, $at: DateTime) {
  publishArticle(id: $id, publishAt: $at) { errors { message } }
}
"""
UPDATE = """
mutation U($id: ID!, $title: String!) {
  updateArticle(id: $id, input: {title: $title}) { errors { message } }
}
"""
UNPUBLISH = """
mutation U($id: ID!, $at: DateTime) { unpublishArticle(id: $id, at: $at) { errors { message } } }
"""
DELETE = "mutation D($id: ID!) { deleteArticle(id: $id) { errors { message } } }"
# How long a test waits for what must come, and for what must not.
_ARRIVES = 10.0
_QUIET = 0.7


class Subscriber:
    """One graphql-transport-ws connection, acknowledged."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._ids = 0

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        operation = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.socket.send(
            json.dumps({"id": operation, "type": "subscribe", "payload": payload})
        )
        return operation

    async def message(self, timeout: float = _ARRIVES) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.socket.recv()
                assert isinstance(frame, str), "graphql-transport-ws messages are text frames"
                message: dict[str, Any] = json.loads(frame)
                if message["type"] == "ping":
                    await self.socket.send(json.dumps({"type": "pong"}))
                    continue
                return message

    async def next(self, timeout: float = _ARRIVES) -> Any:
        message = await self.message(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]

    async def nothing(self) -> None:
        with pytest.raises(TimeoutError):
            await self.message(_QUIET)


@asynccontextmanager
async def subscriber(
    base_url: str, init: dict[str, Any] | None = None
) -> AsyncIterator[Subscriber]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]  # a Subprotocol is a str
        await socket.send(json.dumps({"type": "connection_init", "payload": init or {}}))
        connected = Subscriber(socket)
        assert (await connected.message())["type"] == "connection_ack"
        yield connected


async def _write(
    http: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> None:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload["errors"] == [], payload


def _id(article: Article) -> str:
    return encode_global_id("Article", article.id)


@asynccontextmanager
async def _site(
    settings: Settings,
) -> AsyncIterator[tuple[LiveServer, httpx.AsyncClient, Sessions]]:
    async with (
        live_server(settings) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as http,
    ):
        yield server, http, server.app.state.sessionmaker


async def _people(sessions: Sessions) -> tuple[Author, Category, dict[str, str]]:
    author = await make_author(sessions)
    category = await make_category(sessions)
    return author, category, await bearer(sessions, Role.EDITOR)


async def test_an_anonymous_subscriber_sees_publishes_never_drafts(settings: Settings) -> None:
    async with _site(settings) as (server, http, sessions):
        author, category, editor = await _people(sessions)
        draft = await make_article(
            sessions, author=author, category=category, status=ArticleStatus.DRAFT, title="Soon"
        )
        async with subscriber(server.url) as anonymous:
            await anonymous.subscribe(PUBLISHED)
            # Editing a draft announces a write, which anonymous subscribers must not see.
            await _write(http, editor, UPDATE, id=_id(draft), title="Still a draft")
            await anonymous.nothing()
            await _write(http, editor, PUBLISH, id=_id(draft))
            assert await anonymous.next() == {
                "articlePublished": {"slug": draft.slug, "title": "Still a draft"}
            }
            # Editing a public article is a change, not a publish.
            await _write(http, editor, UPDATE, id=_id(draft), title="Edited")
            await anonymous.nothing()


async def test_a_category_subscription_covers_its_subtree(settings: Settings) -> None:
    async with _site(settings) as (server, http, sessions):
        author, parent, editor = await _people(sessions)
        child = await make_category(sessions, parent=parent)
        other = await make_category(sessions)
        drafts = {
            name: await make_article(
                sessions, author=author, category=where, status=ArticleStatus.DRAFT, slug=name
            )
            for name, where in (("in-child", child), ("elsewhere", other), ("in-parent", parent))
        }
        async with subscriber(server.url) as reader:
            await reader.subscribe(PUBLISHED, {"c": parent.slug})
            for draft in drafts.values():
                await _write(http, editor, PUBLISH, id=_id(draft))
            seen = [(await reader.next())["articlePublished"]["slug"] for _ in range(2)]
            assert seen == ["in-child", "in-parent"]
            await reader.nothing()
            unknown = await reader.subscribe(PUBLISHED, {"c": "no-such-category"})
            refused = await reader.message()
            assert refused["id"] == unknown
            assert refused["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_article_changed_follows_each_version_then_null(settings: Settings) -> None:
    async with _site(settings) as (server, http, sessions):
        author, category, editor = await _people(sessions)
        article = await make_article(sessions, author=author, category=category, title="One")
        async with subscriber(server.url) as anonymous:
            await anonymous.subscribe(CHANGED, {"id": _id(article)})
            await _write(http, editor, UPDATE, id=_id(article), title="Two")
            changed = (await anonymous.next())["articleChanged"]
            assert (changed["title"], changed["version"]) == ("Two", 2)
            await _write(http, editor, UNPUBLISH, id=_id(article))
            assert await anonymous.next() == {"articleChanged": None}
            # Edits of the draft it became are not the anonymous subscriber's to see.
            await _write(http, editor, UPDATE, id=_id(article), title="Three")
            await anonymous.nothing()
            await _write(http, editor, PUBLISH, id=_id(article))
            assert (await anonymous.next())["articleChanged"]["title"] == "Three"
            await _write(http, editor, DELETE, id=_id(article))
            assert await anonymous.next() == {"articleChanged": None}


async def test_a_token_in_connection_init_sees_drafts(settings: Settings) -> None:
    async with _site(settings) as (server, http, sessions):
        author, category, editor = await _people(sessions)
        draft = await make_article(
            sessions, author=author, category=category, status=ArticleStatus.DRAFT
        )
        async with subscriber(server.url, editor) as editing:
            await editing.subscribe(CHANGED, {"id": _id(draft)})
            await _write(http, editor, UPDATE, id=_id(draft), title="Draft, edited")
            changed = (await editing.next())["articleChanged"]
            assert (changed["title"], changed["status"]) == ("Draft, edited", "DRAFT")

        url = server.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]  # a Subprotocol is a str
            refused = {"Authorization": "Bearer not-a-token"}
            await socket.send(json.dumps({"type": "connection_init", "payload": refused}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_scheduled_publish_arrives_at_its_instant(settings: Settings) -> None:
    async with _site(settings) as (server, http, sessions):
        author, category, editor = await _people(sessions)
        draft = await make_article(
            sessions, author=author, category=category, status=ArticleStatus.DRAFT
        )
        async with subscriber(server.url) as reader:
            await reader.subscribe(PUBLISHED)
            await reader.subscribe(CHANGED, {"id": _id(draft)})
            instant = utcnow() + timedelta(seconds=2)
            await _write(http, editor, PUBLISH, id=_id(draft), at=instant.isoformat() + "Z")
            # Scheduled: nothing public yet, for either subscription.
            await reader.nothing()
            first, second = await reader.message(), await reader.message()
            arrived = utcnow()
        assert {first["id"], second["id"]} == {"1", "2"}
        assert instant <= arrived < instant + timedelta(seconds=5)


async def test_a_scheduled_unpublish_reaches_subscribers_at_its_instant(
    settings: Settings,
) -> None:
    async with _site(settings) as (server, http, sessions):
        author, category, editor = await _people(sessions)
        article = await make_article(sessions, author=author, category=category)
        async with subscriber(server.url) as reader:
            await reader.subscribe(CHANGED, {"id": _id(article)})
            instant = utcnow() + timedelta(seconds=2)
            await _write(http, editor, UNPUBLISH, id=_id(article), at=instant.isoformat() + "Z")
            # Still public until then: the write changed nothing the reader sees but its
            # version, which it is sent.
            assert (await reader.next())["articleChanged"]["status"] == "PUBLISHED"
            await reader.nothing()
            assert await reader.next() == {"articleChanged": None}
            arrived = utcnow()
        assert instant <= arrived < instant + timedelta(seconds=5)


async def test_a_connection_holds_a_bounded_number_of_subscriptions(
    database_url: str,
) -> None:
    settings = Settings(
        database_url=database_url, max_subscriptions_per_connection=2, _env_file=None
    )  # type: ignore[call-arg]  # pydantic-settings init kwarg
    async with _site(settings) as (server, _http, _sessions), subscriber(server.url) as reader:
        await reader.subscribe(PUBLISHED)
        await reader.subscribe(PUBLISHED)
        third = await reader.subscribe(PUBLISHED)
        refused = await reader.message()
        assert (refused["id"], refused["type"]) == (third, "error")
        assert "limit" in refused["payload"][0]["message"]


async def test_a_subscription_over_http_is_refused_as_json(settings: Settings) -> None:
    async with _site(settings) as (_server, http, _sessions):
        response = await http.post("/graphql", json={"query": PUBLISHED})
        assert response.status_code < 500
        body = response.json()
        assert body["errors"], body


async def test_a_write_through_one_process_reaches_subscribers_of_another(
    database_url: str, dialect: str, sessionmaker: Sessions, tmp_path: Path
) -> None:
    # PostgreSQL carries announcements itself (NOTIFY); SQLite's go through Redis.
    environment = {"MASTHEAD_DATABASE_URL": database_url}
    if dialect == "sqlite":
        environment |= {
            "MASTHEAD_REDIS_URL": "redis://127.0.0.1:6379/0",
            "MASTHEAD_REDIS_NAMESPACE": f"masthead-test-{uuid.uuid4().hex[:12]}",
        }
    author, category, editor = await _people(sessionmaker)
    drafts = [
        await make_article(
            sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
        )
        for _ in range(5)
    ]
    async with (
        served(environment, tmp_path / "a.log") as listening_url,
        served(environment, tmp_path / "b.log") as writing_url,
        httpx.AsyncClient(base_url=writing_url, trust_env=False) as http,
        subscriber(listening_url) as reader,
    ):
        await reader.subscribe(PUBLISHED)
        latencies = []
        for draft in drafts:
            started = time.perf_counter()
            await _write(http, editor, PUBLISH, id=_id(draft))
            assert (await reader.next())["articlePublished"]["slug"] == draft.slug
            latencies.append(time.perf_counter() - started)
        # From the write's request to the other process's subscriber: well under a second.
        assert max(latencies) < 2.0, latencies
