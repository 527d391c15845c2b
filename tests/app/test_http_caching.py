"""Validators and lifetimes of /graphql answers: strong ETags and 304 for anonymous GETs,
``Cache-Control`` bounded by the next scheduled publish, ``private, no-store`` for the rest,
and ``Vary`` naming every header that changes an answer."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, utcnow
from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.apps import client_of_app_with
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.live_server import live_server
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]

ARTICLES = "{ articles(first: 5) { nodes { slug title } } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"
PUBLIC = {"public": "", "max-age": "60", "stale-while-revalidate": "30", "stale-if-error": "86400"}


async def _get(client: httpx.AsyncClient, query: str = ARTICLES, **headers: str) -> httpx.Response:
    """GET ``query``, with ``headers`` named in Python (``if_none_match``: If-None-Match)."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return await client.get("/graphql", params={"query": query}, headers=sent)


def _directives(response: httpx.Response) -> dict[str, str]:
    directives = (d.strip().partition("=") for d in response.headers["cache-control"].split(","))
    return {name: value for name, _, value in directives}


def _vary(response: httpx.Response) -> set[str]:
    return {name.strip() for name in response.headers.get("vary", "").split(",")}


async def _article(
    sessionmaker: Sessions,
    *,
    status: ArticleStatus = ArticleStatus.PUBLISHED,
    published_at: datetime | None = None,
    days_ago: float | None = None,
    body: str = "<p>Some words.</p>",
) -> Article:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    return await make_article(
        sessionmaker,
        author=author,
        category=category,
        status=status,
        published_at=published_at,
        days_ago=days_ago,
        body=body,
    )


async def test_an_anonymous_get_is_public_with_a_strong_etag(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await _article(sessionmaker)
    first = await _get(client)
    assert first.status_code == 200
    assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["etag"])  # strong: no W/
    assert _directives(first) == PUBLIC
    # The body is the same for every reader: what is left of the budget is in the headers.
    again = await _get(client)
    assert "throttleStatus" not in first.json()["extensions"]["cost"]
    assert first.headers["ratelimit-remaining"] != again.headers["ratelimit-remaining"]
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
    assert {"Accept", "Authorization"} <= _vary(first)


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
    ids=["strong", "weak", "in a list", "any"],
)
async def test_if_none_match_gives_304_with_the_headers_of_the_200(
    client: httpx.AsyncClient, sessionmaker: Sessions, if_none_match: str
) -> None:
    await _article(sessionmaker)
    full = await _get(client, origin="https://news.example")
    etag = full.headers["etag"]
    validated = await _get(
        client, origin="https://news.example", if_none_match=if_none_match.format(etag=etag)
    )
    assert validated.status_code == 304
    assert validated.content == b""
    assert validated.headers["etag"] == etag
    for name in ("cache-control", "vary", "access-control-allow-origin"):
        assert validated.headers[name] == full.headers[name]
    assert "content-type" not in validated.headers
    assert "content-length" not in validated.headers or validated.headers["content-length"] == "0"


async def test_another_etag_or_a_write_gets_the_answer_again(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await _article(sessionmaker)
    etag = (await _get(client)).headers["etag"]
    other = await _get(client, if_none_match='"0123"')
    assert other.status_code == 200
    assert other.headers["etag"] == etag
    await _article(sessionmaker)
    changed = await _get(client, if_none_match=etag)
    assert changed.status_code == 200
    assert len(changed.json()["data"]["articles"]["nodes"]) == 2
    assert changed.headers["etag"] != etag


async def test_each_representation_has_its_own_etag(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    for _ in range(3):
        await _article(sessionmaker, body="<p>" + "words " * 200 + "</p>")
    large = "{ articles(first: 3) { nodes { slug body } } }"
    plain = await _get(client, large, accept_encoding="identity")
    gzipped = await _get(client, large, accept_encoding="gzip")
    strict = await _get(client, large, accept_encoding="identity", accept=GRAPHQL_RESPONSE)
    assert gzipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in _vary(gzipped)
    assert plain.json() == gzipped.json() == strict.json()
    etags = {response.headers["etag"] for response in (plain, gzipped, strict)}
    assert len(etags) == 3
    # Each validates its own representation.
    again = await _get(client, large, accept_encoding="gzip", if_none_match=gzipped.headers["etag"])
    assert again.status_code == 304
    assert "Accept-Encoding" in _vary(again)
    assert (
        await _get(client, large, accept_encoding="identity", if_none_match=gzipped.headers["etag"])
    ).status_code == 200


async def test_max_age_never_outlives_the_next_scheduled_publish(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await _article(sessionmaker, days_ago=1)
    # A draft dated sooner does not count: it needs a write to be published.
    await _article(
        sessionmaker, status=ArticleStatus.DRAFT, published_at=utcnow() + timedelta(seconds=5)
    )
    assert _directives(await _get(client)) == PUBLIC
    # Published in 75 s: max-age stays 60, and serving it stale ends with the publish too.
    await _article(sessionmaker, published_at=utcnow() + timedelta(seconds=75))
    later = _directives(await _get(client))
    assert later["max-age"] == "60"
    assert 12 <= int(later["stale-while-revalidate"]) <= 14
    # Published in 25 s: nothing may keep the answer past it, not even stale.
    await _article(sessionmaker, published_at=utcnow() + timedelta(seconds=25))
    sooner = _directives(await _get(client))
    assert 22 <= int(sooner["max-age"]) <= 24
    assert "stale-while-revalidate" not in sooner
    assert sooner["stale-if-error"] == "86400"
    # However little the answer shows: the simplest bound that is always right.
    assert _directives(await _get(client, "{ __typename }")) == sooner


async def test_settings_set_the_lifetimes(settings: Settings) -> None:
    lifetimes = {"cache_max_age": 300, "cache_stale_while_revalidate": 0, "cache_stale_if_error": 0}
    async with client_of_app_with(settings, **lifetimes) as client:
        assert (await _get(client)).headers["cache-control"] == "public, max-age=300"


async def test_answers_for_a_token_with_errors_or_to_a_post_are_private(
    client: httpx.AsyncClient, sessionmaker: Sessions
) -> None:
    await _article(sessionmaker)
    public = await _get(client)
    token = await bearer(sessionmaker, Role.EDITOR)
    private = [
        await _get(client, if_none_match=public.headers["etag"], **token),
        await client.post("/graphql", json={"query": ARTICLES}),
        await _get(client, "{ articles(first: 500) { totalCount } }"),  # failed: data null
        await _get(client, '{ tags { totalCount } a: article(id: "x", slug: "y") { slug } }'),
        await _get(client, "{ nope }"),  # invalid
        await _get(client, 'mutation { deleteTag(id: "x") { deletedId } }'),  # 405
        await _get(client, ARTICLES, authorization="Bearer mh_unknown"),  # refused token
        await client.get("/graphql", headers={"accept": "text/html"}),  # GraphiQL
    ]
    assert [response.status_code for response in private] == [200] * 5 + [405, 200, 200]
    assert private[0].json()["data"] == public.json()["data"]
    assert private[3].json()["data"]["tags"] == {"totalCount": 0}  # partial, still private
    for response in private:
        assert response.headers["cache-control"] == "private, no-store", response.text
        assert "etag" not in response.headers


async def test_the_schedule_costs_a_shareable_answer_one_statement(
    client: httpx.AsyncClient, sessionmaker: Sessions, statements: StatementCounter
) -> None:
    await _article(sessionmaker)
    await client.post("/graphql", json={"query": ARTICLES})  # connections set up
    statements.reset()
    await client.post("/graphql", json={"query": ARTICLES})
    posted = statements.count
    statements.reset()
    await _get(client)
    assert statements.count == posted + 1
    # Read before the query runs, with the invalidation stamp the response cache keeps.
    assert "published_at >" in statements.statements[0]
    assert "cache_invalidations" in statements.statements[0]


async def test_a_304_over_http_has_no_body_and_keeps_the_connection(settings: Settings) -> None:
    async with live_server(settings) as server:
        await _article(server.app.state.sessionmaker)
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            full = await _get(client)
            validated = await _get(client, if_none_match=full.headers["etag"])
            assert validated.status_code == 304
            assert validated.content == b""
            assert "transfer-encoding" not in validated.headers
            # The connection is still in step: the next answer on it is whole.
            assert (await _get(client)).json() == full.json()
