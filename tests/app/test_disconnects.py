"""Work nobody waits for any more is cancelled, through the app's real ASGI call: a client
that went away, a request past its deadline."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.types import Message, Scope

from db.dialects import database_of
from db.models import Article
from masthead.app import close, create_app
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.statements import StatementCounter

# Some connection of this database waits for a lock another transaction holds.
_WAITING_ON_A_LOCK = (
    "SELECT count(*) > 0 FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)

CREATE = """
mutation Create($input: CreateArticleInput!) { createArticle(input: $input) { article { slug } } }
"""


def _scope(*headers: tuple[bytes, bytes], query_string: bytes = b"") -> Scope:
    """A JSON POST to /graphql as a server hands it to the app, or a GET with a query string."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET" if query_string else "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }


async def test_a_client_leaving_cancels_its_write(
    app: Starlette, sessionmaker: async_sessionmaker[AsyncSession], dialect: str
) -> None:
    if dialect == "sqlite":
        # aiosqlite runs a statement waiting for SQLite's write lock in its own thread,
        # where no cancellation reaches it; the write then goes ahead once the lock is free.
        pytest.skip("a statement waiting on SQLite's write lock cannot be cancelled")
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    token = (await bearer(sessionmaker, Role.EDITOR))["Authorization"]
    variables = {
        "input": {
            "title": "Held",
            "body": "<p>x</p>",
            "authorId": encode_global_id("Author", author.id),
            "categoryId": encode_global_id("Category", category.id),
        }
    }
    body = json.dumps({"query": CREATE, "variables": variables}).encode()
    scope = _scope((b"authorization", token.encode()))
    left = asyncio.Event()
    sent: list[Message] = []

    async def receive() -> Message:
        if not left.is_set():
            left.set()
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(0.3)  # the write is waiting on the lock by now
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async with sessionmaker() as blocker:
        # Another writer holds what this write needs (the write lock, the slug's lock).
        database = database_of(blocker)
        await database.begin_write(blocker)
        await database.lock(blocker, "slug:articles:held")
        request = asyncio.ensure_future(app(scope, receive, send))
        await asyncio.sleep(0.8)  # the client has left; the write still waits
        await blocker.rollback()  # now it could go ahead, were it not cancelled
    await asyncio.wait_for(request, timeout=15)
    assert not any(message["type"] == "http.response.start" for message in sent), sent
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 0


async def test_a_client_leaving_cancels_its_query_over_get(
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
    dialect: str,
) -> None:
    if dialect == "sqlite":
        pytest.skip("SQLite lets readers through any lock a test can hold")
    author = await make_author(sessionmaker)
    await make_article(sessionmaker, author=author, category=await make_category(sessionmaker))
    query = "{ articles(first: 1) { nodes { slug author { name } } } }"
    scope = _scope(query_string=urlencode({"query": query}).encode())
    left = asyncio.Event()
    asked = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        if not asked:  # a GET's body: none
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async with sessionmaker() as blocker, sessionmaker() as observer:
        # Another transaction holds the articles table: the page of articles waits for it.
        await blocker.execute(text("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE"))
        statements.reset()
        request = asyncio.ensure_future(app(scope, receive, send))
        async with asyncio.timeout(5):
            while not await observer.scalar(text(_WAITING_ON_A_LOCK)):
                await asyncio.sleep(0.05)
        left.set()
        await asyncio.sleep(0.3)  # the client has left; the page still waits
        await blocker.rollback()  # now the query could go on to the authors
    await asyncio.wait_for(request, timeout=5)
    assert not any(message["type"] == "http.response.start" for message in sent), sent
    # The page's own statement ran to its end (a read is shielded, so that its connection
    # goes back to the pool), but nothing after it did.
    assert statements.statements, "the page of articles was never asked for"
    assert not [statement for statement in statements.statements if "authors" in statement]


async def test_a_client_staying_gets_its_answer(app: Starlette) -> None:
    answers: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b'{"query": "{ tags { totalCount } }"}'}

    async def send(message: Message) -> None:
        answers.append(message)

    scope = _scope()
    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    assert answers[0]["status"] == 200


async def test_a_request_past_its_deadline_is_503_and_its_write_cancelled(
    settings: Settings, dialect: str
) -> None:
    if dialect == "sqlite":
        pytest.skip("a statement waiting on SQLite's write lock cannot be cancelled")
    app = create_app(settings.model_copy(update={"request_timeout": 0.5}))
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    token = await bearer(sessionmaker, Role.EDITOR)
    variables = {
        "input": {
            "title": "Held",
            "body": "<p>x</p>",
            "authorId": encode_global_id("Author", author.id),
            "categoryId": encode_global_id("Category", category.id),
        }
    }
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        sessionmaker() as blocker,
    ):
        database = database_of(blocker)
        await database.begin_write(blocker)
        await database.lock(blocker, "slug:articles:held")
        started = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": CREATE, "variables": variables}, headers=token
        )
        took = time.perf_counter() - started
        await blocker.rollback()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert took < 2, took
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 0
    await close(app)
