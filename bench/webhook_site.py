"""What the webhook benchmarks share: the app in-process with its worker, an admin token,
an author and a category to write under, and a real receiver subscribed to some events;
all of it deleted afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.webhook_receiver import Receiver, webhook_receiver
from db.models import ApiToken, Article, Author, Category, Webhook
from masthead.app import create_app
from masthead.event_worker import running_worker
from masthead.settings import Settings
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role
from tests.support.factories import make_author, make_category

__all__ = ["Site", "webhook_site"]

_TOKEN = "bench-webhooks"
_CREATE_WEBHOOK = """
mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhook(input: {url: $url, events: $events}) { secret errors { code } }
}"""


@dataclass(frozen=True)
class Site:
    http: httpx.AsyncClient
    hook: Receiver
    sessionmaker: async_sessionmaker[AsyncSession]
    headers: dict[str, str]
    author: Author
    category: Category

    async def graphql(self, query: str, variables: dict[str, object]) -> None:
        answer = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )
        assert "errors" not in answer.json(), answer.text


@asynccontextmanager
async def webhook_site(database_url: str, events: list[str]) -> AsyncIterator[Site]:
    settings = Settings(database_url=database_url, serve_worker=False, rate_limit=0)
    app = create_app(settings)
    sessionmaker = app.state.sessionmaker
    async with sessionmaker.begin() as session:
        secret = await create_token(session, name=_TOKEN, role=Role.ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
            webhook_receiver() as hook,
            running_worker(settings, sessionmaker),
        ):
            created = await http.post(
                "/graphql",
                json={"query": _CREATE_WEBHOOK, "variables": {"url": hook.url, "events": events}},
                headers=headers,
            )
            hook.secret = created.json()["data"]["createWebhook"]["secret"]
            yield Site(http, hook, sessionmaker, headers, author, category)
            assert hook.bad_signatures == 0
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(delete(Webhook))
            await session.execute(delete(ApiToken).where(ApiToken.name == _TOKEN))
            await session.execute(delete(Article).where(Article.author_id == author.id))
            await session.execute(delete(Author).where(Author.id == author.id))
            await session.execute(delete(Category).where(Category.id == category.id))
        await app.state.engine.dispose()
