"""What the webhook benchmarks share: the app in-process with its worker, an admin token,
an author and a category to write under, and a real receiver subscribed to some events;
all of it deleted afterwards. Rows are written through the GraphQL API, as a client would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.webhook_receiver import Receiver, webhook_receiver
from db.models import ApiToken, Article, Author, Category, Webhook
from masthead.app import create_app
from masthead.event_worker import running_worker
from masthead.settings import Settings
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role

__all__ = ["Site", "webhook_site"]

_NAME = "bench-webhooks"  # the token's name, and the author's and the category's slug
_CREATE_AUTHOR = """
mutation($slug: String!) {
  createAuthor(input: {name: "Bench Webhooks", slug: $slug}) { author { id } errors { code } }
}"""
_CREATE_CATEGORY = """
mutation($slug: String!) {
  createCategory(input: {name: "Bench Webhooks", slug: $slug}) { category { id } errors { code } }
}"""
_CREATE_ARTICLE = """
mutation($input: CreateArticleInput!) {
  createArticle(input: $input) { article { id } errors { code } }
}"""
_CREATE_WEBHOOK = """
mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhook(input: {url: $url, events: $events}) { secret errors { code } }
}"""


async def _payload(
    http: httpx.AsyncClient, headers: dict[str, str], query: str, variables: Mapping[str, object]
) -> dict[str, Any]:
    """The mutation's payload; it must hold no error."""
    answer = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert "errors" not in answer.json(), answer.text
    (payload,) = answer.json()["data"].values()
    assert not payload["errors"], answer.text
    return dict(payload)


@dataclass(frozen=True)
class Site:
    http: httpx.AsyncClient
    hook: Receiver
    headers: dict[str, str]
    author_id: str  # global ids
    category_id: str

    async def graphql(self, query: str, variables: Mapping[str, object]) -> dict[str, Any]:
        return await _payload(self.http, self.headers, query, variables)

    async def draft(self, title: str) -> str:
        """A new draft by the site's author in its category; its global id."""
        fields = {
            "title": title,
            "body": "<p>A few words of body text.</p>",
            "authorId": self.author_id,
            "categoryId": self.category_id,
        }
        created = await self.graphql(_CREATE_ARTICLE, {"input": fields})
        return str(created["article"]["id"])


@asynccontextmanager
async def webhook_site(database_url: str, events: list[str]) -> AsyncIterator[Site]:
    settings = Settings(database_url=database_url, serve_worker=False, rate_limit=0)
    app = create_app(settings)
    sessionmaker = app.state.sessionmaker
    transport = httpx.ASGITransport(app=app)
    try:
        async with sessionmaker.begin() as session:
            secret = await create_token(session, name=_NAME, role=Role.ADMIN)
        headers = {"Authorization": f"Bearer {secret}"}
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
            webhook_receiver() as hook,
            running_worker(settings, sessionmaker),
        ):
            author = await _payload(http, headers, _CREATE_AUTHOR, {"slug": _NAME})
            category = await _payload(http, headers, _CREATE_CATEGORY, {"slug": _NAME})
            variables = {"url": hook.url, "events": events}
            hook.secret = (await _payload(http, headers, _CREATE_WEBHOOK, variables))["secret"]
            yield Site(http, hook, headers, author["author"]["id"], category["category"]["id"])
            assert hook.bad_signatures == 0
    finally:
        await _delete_what_it_wrote(sessionmaker)
        await app.state.engine.dispose()


async def _delete_what_it_wrote(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    # By name, so a run stopped half-way through its setup leaves nothing either.
    authors = select(Author.id).where(Author.slug == _NAME)
    async with sessionmaker.begin() as session:
        await session.execute(delete(Webhook))
        await session.execute(delete(ApiToken).where(ApiToken.name == _NAME))
        await session.execute(delete(Article).where(Article.author_id.in_(authors)))
        await session.execute(delete(Author).where(Author.slug == _NAME))
        await session.execute(delete(Category).where(Category.slug == _NAME))
