"""Two ``masthead serve`` processes on one PostgreSQL database and one Redis: once a write
through one is acknowledged, the other never answers with what the write changed.

A thousand writes of four kinds go through one process; before each, both processes have
the pages cached (from their own memory or from Redis), and readers in the background keep
asking both, so that answers are computed and kept while writes commit. After each write is
acknowledged, the other process must answer the write's content."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from db.engine import create_engine, create_sessionmaker
from db.migration import upgrade
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.databases import scratch_database
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.served import served

REDIS_URL = "redis://127.0.0.1:6379/0"
ROUNDS = 1000
PAGE = '{ article(slug: "lead") { title author { name } relatedPosts(first: 1) { slug } } }'
HOME = "{ articles(first: 20) { nodes { slug title } } }"
UPDATE = (
    "mutation($id: ID!, $title: String!) { updateArticle(id: $id, input: {title: $title}) "
    "{ errors { code } } }"
)
RENAME = (
    "mutation($id: ID!, $name: String!) { updateAuthor(id: $id, input: {name: $name}) "
    "{ errors { code } } }"
)
PUBLISH = "mutation($id: ID!) { publishArticle(id: $id) { errors { code } } }"
UNPUBLISH = "mutation($id: ID!) { unpublishArticle(id: $id) { errors { code } } }"
PIN = (
    "mutation($id: ID!, $r: [ID!]!) { setRelatedPosts(id: $id, relatedIds: $r) "
    "{ errors { code } } }"
)


async def _read(client: httpx.AsyncClient, query: str) -> tuple[Any, str]:
    response = await client.get("/graphql", params={"query": query})
    assert response.status_code == 200, response.text
    return response.json()["data"], response.headers.get("masthead-cache", "")


async def _keep_reading(clients: list[httpx.AsyncClient], stop: asyncio.Event) -> int:
    """Ask both processes for both pages until ``stop``: answers computed while writes
    commit, and kept."""
    asked = 0
    while not stop.is_set():
        for client in clients:
            for query in (PAGE, HOME):
                await _read(client, query)
                asked += 1
    return asked


@pytest.mark.timeout(900)
async def test_a_write_acknowledged_by_one_process_is_never_unseen_by_another(
    tmp_path: Path,
) -> None:
    namespace = f"masthead-test-{uuid.uuid4().hex[:8]}"
    async with scratch_database("postgresql", tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        try:
            sessionmaker = create_sessionmaker(engine)
            author = await make_author(sessionmaker, name="Author 0")
            category = await make_category(sessionmaker)
            tag = await make_tag(sessionmaker)

            async def article(slug: str, days: float) -> str:
                row = await make_article(
                    sessionmaker,
                    author=author,
                    category=category,
                    tags=[tag],
                    slug=slug,
                    title=slug,
                    days_ago=days,
                )
                return encode_global_id("Article", row.id)

            writer = encode_global_id("Author", author.id)
            lead = await article("lead", 5)
            toggled = await article("toggled", 4)
            pins = [await article("pin-a", 3), await article("pin-b", 2)]
            token = await bearer(sessionmaker, Role.ADMIN)
        finally:
            await engine.dispose()

        environment = {
            "MASTHEAD_DATABASE_URL": url,
            "MASTHEAD_REDIS_URL": REDIS_URL,
            "MASTHEAD_REDIS_NAMESPACE": namespace,
            "MASTHEAD_RATE_LIMIT": "0",
        }
        try:
            async with (
                served(environment, tmp_path / "one.log") as one_url,
                served(environment, tmp_path / "two.log") as two_url,
                httpx.AsyncClient(base_url=one_url, trust_env=False) as one,
                httpx.AsyncClient(base_url=two_url, trust_env=False) as two,
                httpx.AsyncClient(base_url=one_url, trust_env=False) as one_behind,
                httpx.AsyncClient(base_url=two_url, trust_env=False) as two_behind,
            ):
                stop = asyncio.Event()
                readers = asyncio.ensure_future(_keep_reading([one_behind, two_behind], stop))
                try:
                    stale, hits = await _rounds(one, two, token, writer, lead, toggled, pins)
                finally:
                    stop.set()
                    background = await readers
        finally:
            async with redis.asyncio.Redis.from_url(REDIS_URL) as connection:
                keys = [key async for key in connection.scan_iter(f"{namespace}:*")]
                if keys:
                    await connection.delete(*keys)
    assert stale == [], f"{len(stale)} stale answers in {ROUNDS} rounds: {stale[:5]}"
    # The cache was in play: before most writes, the reading process had the page kept.
    assert hits >= ROUNDS * 0.9, hits
    assert background > ROUNDS


async def _rounds(
    one: httpx.AsyncClient,
    two: httpx.AsyncClient,
    token: dict[str, str],
    writer: str,
    lead: str,
    toggled: str,
    pins: list[str],
) -> tuple[list[tuple[int, str, object, object]], int]:
    """Write through ``one``, read through ``two``: the stale answers seen, and how often the
    page was a hit in ``two`` just before a write."""
    title, name, published, pinned = "lead", "Author 0", True, None
    stale: list[tuple[int, str, object, object]] = []
    hits = 0

    async def write(document: str, variables: dict[str, Any]) -> None:
        response = await one.post(
            "/graphql", json={"query": document, "variables": variables}, headers=token
        )
        body = response.json()
        assert "errors" not in body, body
        assert next(iter(body["data"].values()))["errors"] == [], body

    for n in range(ROUNDS):
        await _read(one, PAGE)  # kept by one, and in Redis
        _, cached = await _read(two, PAGE)
        await _read(two, HOME)
        hits += cached == "hit"
        kind = n % 4
        if kind == 0:
            title = f"lead {n}"
            await write(UPDATE, {"id": lead, "title": title})
        elif kind == 1:
            name = f"Author {n}"
            await write(RENAME, {"id": writer, "name": name})
        elif kind == 2:
            published = not published
            await write(PUBLISH if published else UNPUBLISH, {"id": toggled})
        else:
            pinned = "pin-a" if pinned != "pin-a" else "pin-b"
            await write(PIN, {"id": lead, "r": [pins[0] if pinned == "pin-a" else pins[1]]})
        # Acknowledged: the other process must answer with it.
        page, _ = await _read(two, PAGE)
        home, _ = await _read(two, HOME)
        seen = page["article"]
        slugs = {node["slug"]: node["title"] for node in home["articles"]["nodes"]}
        checks = [
            ("title", seen["title"], title),
            ("home title", slugs.get("lead"), title),
            ("author", seen["author"]["name"], name),
            ("published", "toggled" in slugs, published),
        ]
        if pinned is not None:
            checks.append(("pinned", seen["relatedPosts"][0]["slug"], pinned))
        stale.extend((n, what, got, want) for what, got, want in checks if got != want)
    return stale, hits
