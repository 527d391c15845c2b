"""Masthead's own cache of anonymous GET answers: a hit skips GraphQL, honours the rate
limit and validators, and every kind of write drops exactly the answers it changed.

The oracle of "never stale": after each write, every GET answers what a POST (never cached)
answers at that moment; answers the write left alone are still hits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, Author, Category, Tag, utcnow
from masthead import examples
from masthead.persisted_queries import query_hash
from masthead.response_cache import RequestKeys, request_key
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.apps import client_of_app_with
from tests.support.auth import bearer
from tests.support.cli import masthead
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import graphql
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]

REDIS_URL = "redis://127.0.0.1:6379/0"
HOME = "{ articles(first: 10) { totalCount nodes { slug title author { name } } } }"
PAGE = """
query Page($slug: String!) {
  article(slug: $slug) {
    title version category { name } author { name } tags { name }
    relatedPosts(first: 1) { slug }
  }
}
"""
CATEGORY = "query C($slug: String!) { category(slug: $slug) { name articleCount } }"
LISTS = "{ tags(first: 20) { nodes { slug name } } categories { slug name } }"
TAG = '{ tag(slug: "fresh") { name } }'
SEARCH = '{ search(query: "harbour") { totalCount nodes { slug } } }'


def _query(query: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    params = {"query": query}
    if variables is not None:
        params["variables"] = httpx.QueryParams({"v": _json(variables)})["v"]
    return params


def _json(value: object) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


async def _get(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    response = await client.get("/graphql", params=_query(query, variables), headers=sent)
    return response


def _cache(response: httpx.Response) -> str | None:
    """Whether Masthead's cache answered (``hit``), or kept nothing yet (``miss``)."""
    found: str | None = response.headers.get("masthead-cache")
    return found


@dataclass
class Site:
    """Two corners of a site no write of one touches in the other: A articles (category X,
    tag t1, author P) and B articles (category Y, tag t2, author Q)."""

    x: Category
    y: Category
    p: Author
    q: Author
    t1: Tag
    t2: Tag
    a1: Article
    a2: Article
    a3: Article  # a draft in X with t1
    b1: Article
    b2: Article
    token: dict[str, str]


@pytest.fixture
async def site(sessionmaker: Sessions) -> Site:
    x = await make_category(sessionmaker, name="Harbours", slug="x")
    y = await make_category(sessionmaker, name="Valleys", slug="y")
    p = await make_author(sessionmaker, name="Pia")
    q = await make_author(sessionmaker, name="Quentin")
    t1 = await make_tag(sessionmaker, name="boats", slug="t1")
    t2 = await make_tag(sessionmaker, name="hills", slug="t2")

    async def article(
        slug: str, category: Category, author: Author, tag: Tag, days: float, **kw: Any
    ) -> Article:
        return await make_article(
            sessionmaker,
            author=author,
            category=category,
            tags=[tag],
            slug=slug,
            title=f"{slug} harbour" if category is x else slug,
            days_ago=days,
            **kw,
        )

    a1 = await article("a1", x, p, t1, 4)
    a2 = await article("a2", x, p, t1, 3)
    a3 = await article("a3", x, p, t1, 0, status=ArticleStatus.DRAFT)
    b1 = await article("b1", y, q, t2, 2)
    b2 = await article("b2", y, q, t2, 1)
    token = await bearer(sessionmaker, Role.ADMIN)
    return Site(x, y, p, q, t1, t2, a1, a2, a3, b1, b2, token)


def _gid(type_name: str, pk: int) -> str:
    return encode_global_id(type_name, pk)


# The answers kept before each write, by name: (query, variables).
READS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "home": (HOME, None),
    "a1": (PAGE, {"slug": "a1"}),
    "a2": (PAGE, {"slug": "a2"}),
    "a3": (PAGE, {"slug": "a3"}),
    "b1": (PAGE, {"slug": "b1"}),
    "x": (CATEGORY, {"slug": "x"}),
    "y": (CATEGORY, {"slug": "y"}),
    "lists": (LISTS, None),
    "tag": (TAG, None),
    "search": (SEARCH, None),
}


async def _mutate(
    client: httpx.AsyncClient, site: Site, document: str, variables: dict[str, Any]
) -> None:
    body = await graphql(client, document, variables, headers=site.token)
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["errors"] == [], payload


Write = Callable[[httpx.AsyncClient, Site], Awaitable[None]]


async def _update_title(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($id: ID!) { updateArticle(id: $id, input: {title: "a1 renamed harbour"}) '
        "{ errors { code } } }",
        {"id": _gid("Article", site.a1.id)},
    )


async def _create_draft(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($input: CreateArticleInput!) "
        "{ createArticle(input: $input) { errors { code } } }",
        {
            "input": {
                "title": "A new harbour draft",
                "body": "<p>Words.</p>",
                "authorId": _gid("Author", site.p.id),
                "categoryId": _gid("Category", site.x.id),
                "tagIds": [_gid("Tag", site.t1.id)],
            }
        },
    )


async def _edit_draft(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($id: ID!) { updateArticle(id: $id, input: {title: "Still a draft"}) '
        "{ errors { code } } }",
        {"id": _gid("Article", site.a3.id)},
    )


async def _publish(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!) { publishArticle(id: $id) { errors { code } } }",
        {"id": _gid("Article", site.a3.id)},
    )


async def _unpublish(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!) { unpublishArticle(id: $id) { errors { code } } }",
        {"id": _gid("Article", site.a2.id)},
    )


async def _delete(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!) { deleteArticle(id: $id) { errors { code } } }",
        {"id": _gid("Article", site.a2.id)},
    )


async def _move(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!, $c: ID!) { updateArticle(id: $id, input: {categoryId: $c}) "
        "{ errors { code } } }",
        {"id": _gid("Article", site.a2.id), "c": _gid("Category", site.y.id)},
    )


async def _pin(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!, $r: [ID!]!) { setRelatedPosts(id: $id, relatedIds: $r) "
        "{ errors { code } } }",
        {"id": _gid("Article", site.b1.id), "r": [_gid("Article", site.a3.id)]},
    )


async def _rename_category(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($id: ID!) { updateCategory(id: $id, input: {name: "Ports"}) '
        "{ errors { code } } }",
        {"id": _gid("Category", site.x.id)},
    )


async def _rename_author(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($id: ID!) { updateAuthor(id: $id, input: {name: "Pia Renamed"}) '
        "{ errors { code } } }",
        {"id": _gid("Author", site.p.id)},
    )


async def _rename_tag(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($id: ID!) { updateTag(id: $id, input: {name: "ships"}) { errors { code } } }',
        {"id": _gid("Tag", site.t1.id)},
    )


async def _create_tag(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation { createTag(input: {name: "Fresh", slug: "fresh"}) { errors { code } } }',
        {},
    )


async def _delete_tag(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        "mutation($id: ID!) { deleteTag(id: $id) { errors { code } } }",
        {"id": _gid("Tag", site.t1.id)},
    )


async def _create_category(client: httpx.AsyncClient, site: Site) -> None:
    await _mutate(
        client,
        site,
        'mutation($p: ID!) { createCategory(input: {name: "Docks", parentId: $p}) '
        "{ errors { code } } }",
        {"p": _gid("Category", site.x.id)},
    )


# Each write, and the answers it must leave alone (still hits after it).
WRITES: dict[str, tuple[Write, set[str]]] = {
    "create a draft": (_create_draft, set(READS)),
    "edit a draft": (_edit_draft, set(READS)),
    # a2's related posts show a1.
    "update": (_update_title, {"a3", "b1", "y", "lists", "tag"}),
    "publish": (_publish, {"b1", "y", "lists", "tag"}),
    "unpublish": (_unpublish, {"a3", "b1", "y", "lists", "tag"}),
    "delete": (_delete, {"a3", "b1", "y", "lists", "tag"}),
    "move to another category": (_move, {"a3", "lists", "tag"}),
    # b1 is written: its version, and its place in lists (search's too).
    "set related posts": (_pin, {"a1", "a2", "a3", "x", "lists", "tag"}),
    "rename a category": (_rename_category, {"a3", "b1", "y", "tag", "home", "search"}),
    "rename an author": (_rename_author, {"a3", "b1", "x", "y", "lists", "tag", "search"}),
    "rename a tag": (_rename_tag, {"a3", "b1", "x", "y", "tag", "home", "search"}),
    "create a tag": (_create_tag, {"home", "a1", "a2", "a3", "b1", "x", "y", "search"}),
    "delete a tag": (_delete_tag, {"a3", "b1", "y", "tag"}),
    "create a category": (_create_category, set(READS) - {"lists"}),
}


async def _fresh(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None) -> Any:
    """What the database says now: a POST is never answered from the cache."""
    body = await graphql(client, query, variables)
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
async def test_each_write_drops_exactly_the_answers_it_changed(
    client: httpx.AsyncClient, site: Site, write: str
) -> None:
    for query, variables in READS.values():
        assert _cache(await _get(client, query, variables)) == "miss"
        assert _cache(await _get(client, query, variables)) == "hit"
    change, untouched = WRITES[write]
    await change(client, site)
    changed = []
    for name, (query, variables) in READS.items():
        response = await _get(client, query, variables)
        assert response.status_code == 200
        assert response.json()["data"] == await _fresh(client, query, variables), name
        if _cache(response) == "miss":
            changed.append(name)
    assert set(changed) == set(READS) - untouched


async def test_a_hit_skips_graphql_and_reads_the_log_once(
    client: httpx.AsyncClient, site: Site, statements: StatementCounter
) -> None:
    first = await _get(client, PAGE, {"slug": "a1"})
    statements.reset()
    again = await _get(client, PAGE, {"slug": "a1"})
    assert (_cache(first), _cache(again)) == ("miss", "hit")
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == first.headers["cache-control"]
    assert again.headers["cache-tag"] == first.headers["cache-tag"]
    # One statement: whether a tag went stale since. No article was read.
    [statement] = statements.statements
    assert "cache_invalidations" in statement
    assert "articles" not in statement


@pytest.mark.parametrize("operation", ["Home", "ArticlePage", "CategoryPage"])
async def test_a_miss_costs_the_uncached_path_and_one_read(
    client: httpx.AsyncClient, site: Site, statements: StatementCounter, operation: str
) -> None:
    query, variables = {
        "Home": (examples.HOME, {}),
        "ArticlePage": (examples.ARTICLE_PAGE, {"slug": "a1"}),
        "CategoryPage": (examples.CATEGORY_PAGE, {"slug": "x"}),
    }[operation]
    await _fresh(client, query, variables)  # related lists kept, connections set up
    statements.reset()
    await _fresh(client, query, variables)
    uncached = statements.count
    statements.reset()
    assert _cache(await _get(client, query, variables)) == "miss"
    assert statements.count == uncached + 1
    statements.reset()
    assert _cache(await _get(client, query, variables)) == "hit"
    assert statements.count == 1


async def test_a_hit_answers_if_none_match_with_304(client: httpx.AsyncClient, site: Site) -> None:
    full = await _get(client, HOME)
    validated = await _get(client, HOME, if_none_match=full.headers["etag"])
    assert (validated.status_code, _cache(validated)) == (304, "hit")
    assert validated.content == b""
    assert validated.headers["surrogate-key"] == full.headers["surrogate-key"]


async def test_each_representation_and_variables_are_kept_apart(
    client: httpx.AsyncClient, site: Site
) -> None:
    asked = [
        {"accept_encoding": "identity"},
        {"accept_encoding": "gzip"},
        {"accept_encoding": "identity", "accept": "application/graphql-response+json"},
    ]
    for headers in asked:
        assert _cache(await _get(client, PAGE, {"slug": "a1"}, **headers)) == "miss"
    for headers in asked:
        response = await _get(client, PAGE, {"slug": "a1"}, **headers)
        assert _cache(response) == "hit"
        assert response.json()["data"]["article"]["title"] == "a1 harbour"
    gzipped = await _get(client, PAGE, {"slug": "a1"}, accept_encoding="gzip")
    strict = await _get(client, PAGE, {"slug": "a1"}, accept="application/graphql-response+json")
    assert strict.headers["content-type"].startswith("application/graphql-response+json")
    assert len({gzipped.headers["etag"], strict.headers["etag"]}) == 2
    other = await _get(client, PAGE, {"slug": "b1"})
    assert (_cache(other), other.json()["data"]["article"]["title"]) == ("miss", "b1")


async def test_a_persisted_query_hash_finds_the_answer_its_text_made(
    client: httpx.AsyncClient, site: Site
) -> None:
    assert _cache(await _get(client, HOME)) == "miss"
    extensions = _json({"persistedQuery": {"version": 1, "sha256Hash": query_hash(HOME)}})
    # Registered by the text with its hash (a POST runs it), then found by the hash alone.
    await client.post(
        "/graphql",
        json={
            "query": HOME,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(HOME)}},
        },
    )
    by_hash = await client.get("/graphql", params={"extensions": extensions})
    assert _cache(by_hash) == "hit"
    assert by_hash.json()["data"]["articles"]["totalCount"] == 4
    # A hash that is not the text's: GraphQL says so, nothing is served from the cache.
    wrong = _json({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})
    refused = await client.get("/graphql", params={"query": HOME, "extensions": wrong})
    assert _cache(refused) is None
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_answers_with_errors_for_a_token_or_posted_are_never_kept(
    client: httpx.AsyncClient, site: Site
) -> None:
    failing = "{ articles(first: 500) { totalCount } }"
    for _ in range(2):
        assert _cache(await _get(client, failing)) == "miss"
        with_token = await client.get("/graphql", params={"query": HOME}, headers=site.token)
        assert _cache(with_token) is None
        assert _cache(await client.post("/graphql", json={"query": HOME})) is None
        assert _cache(await client.get("/graphql", headers={"accept": "text/html"})) is None


async def test_a_hit_spends_the_rate_limit_as_running_it_would(
    settings: Settings, sessionmaker: Sessions, site: Site
) -> None:
    async with client_of_app_with(settings, rate_limit=100) as client:
        first = await _get(client, HOME)
        cost = first.json()["extensions"]["cost"]["requestedQueryCost"]
        assert cost == 21
        left = int(first.headers["ratelimit-remaining"])
        hit = await _get(client, HOME)
        assert _cache(hit) == "hit"
        assert int(hit.headers["ratelimit-remaining"]) == left - cost
        assert hit.headers["ratelimit-limit"] == "100"
        while (response := await _get(client, HOME)).status_code == 200:
            assert _cache(response) == "hit"
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "retry-after" in response.headers


def _sent_headers(response: httpx.Response, *, leaving: set[str]) -> list[tuple[str, str]]:
    return sorted(
        (name, value) for name, value in response.headers.multi_items() if name not in leaving
    )


@pytest.mark.parametrize("validated", [False, True], ids=["200", "304"])
async def test_a_hit_before_the_app_layers_is_the_hit_they_would_send(
    settings: Settings, site: Site, validated: bool
) -> None:
    """Hits without ``Origin`` are answered before the app's other layers
    (``CacheHits``), those with it the whole way (CORS answers them): the same answer."""
    async with client_of_app_with(settings, rate_limit=10**6) as client:
        for query, variables in (
            (PAGE, {"slug": "a1"}),
            (HOME, None),
            (CATEGORY, {"slug": "x"}),
        ):
            first = await _get(client, query, variables)
            extra = {"if_none_match": first.headers["etag"]} if validated else {}
            early = await _get(client, query, variables, **extra)
            whole = await _get(client, query, variables, origin="https://elsewhere.test", **extra)
            assert _cache(early) == _cache(whole) == "hit"
            assert early.status_code == whole.status_code == (304 if validated else 200)
            assert early.content == whole.content
            assert whole.headers["access-control-allow-origin"] == "*"
            assert _sent_headers(early, leaving={"ratelimit-remaining"}) == _sent_headers(
                whole, leaving={"ratelimit-remaining", "access-control-allow-origin"}
            )
            assert early.headers["vary"] == whole.headers["vary"]
            assert "Origin" in early.headers["vary"]
            remaining = [int(r.headers["ratelimit-remaining"]) for r in (first, early, whole)]
            cost = first.json()["extensions"]["cost"]["requestedQueryCost"]
            assert remaining[1] == remaining[0] - cost
            assert remaining[2] == remaining[1] - cost


async def test_a_scheduled_publish_coming_due_drops_the_answers_kept_before(
    client: httpx.AsyncClient, site: Site
) -> None:
    due = utcnow() + timedelta(seconds=1.5)
    await _mutate(
        client,
        site,
        "mutation($id: ID!, $at: DateTime!) { publishArticle(id: $id, publishAt: $at) "
        "{ errors { code } } }",
        {"id": _gid("Article", site.a3.id), "at": due.isoformat() + "Z"},
    )
    before = await _get(client, HOME)
    assert _cache(before) == "miss"
    assert _cache(await _get(client, HOME)) == "hit"
    assert int(before.headers["cache-control"].split("max-age=")[1].split(",")[0]) <= 2
    assert before.json()["data"]["articles"]["totalCount"] == 4
    while utcnow() < due:
        await asyncio.sleep(0.05)
    after = await _get(client, HOME)
    assert _cache(after) == "miss"
    assert after.json()["data"]["articles"]["totalCount"] == 5
    assert _cache(await _get(client, HOME)) == "hit"


async def test_switched_off_nothing_is_kept(settings: Settings, site: Site) -> None:
    async with client_of_app_with(settings, response_cache=False) as client:
        for _ in range(2):
            response = await _get(client, HOME)
            assert _cache(response) is None
            assert "articles" in response.headers["cache-tag"].split(",")


async def test_masthead_cache_clear_drops_every_answer(
    client: httpx.AsyncClient, site: Site, database_url: str
) -> None:
    assert _cache(await _get(client, HOME)) == "miss"
    assert _cache(await _get(client, HOME)) == "hit"
    done = await asyncio.to_thread(masthead, "cache", "clear", database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert "every cached answer is stale" in done.stderr
    assert _cache(await _get(client, HOME)) == "miss"


@pytest.fixture
async def redis_settings(settings: Settings) -> AsyncIterator[Settings]:
    import redis.asyncio

    namespace = f"masthead-test-{uuid.uuid4().hex[:8]}"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "redis_namespace": namespace})
    async with redis.asyncio.Redis.from_url(REDIS_URL) as connection:
        keys = [key async for key in connection.scan_iter(f"{namespace}:*")]
        if keys:
            await connection.delete(*keys)


async def test_in_redis_one_process_serves_what_another_computed(
    redis_settings: Settings, site: Site
) -> None:
    async with (
        client_of_app_with(redis_settings) as one,
        client_of_app_with(redis_settings) as two,
    ):
        assert _cache(await _get(one, PAGE, {"slug": "a1"})) == "miss"
        shared = await _get(two, PAGE, {"slug": "a1"})
        assert _cache(shared) == "hit"
        assert shared.json()["data"]["article"]["title"] == "a1 harbour"
        # A write through one: the other never serves what it kept, from Redis or its own.
        await _update_title(one, site)
        renamed = await _get(two, PAGE, {"slug": "a1"})
        assert _cache(renamed) == "miss"
        assert renamed.json()["data"]["article"]["title"] == "a1 renamed harbour"
        assert _cache(await _get(one, PAGE, {"slug": "a1"})) == "hit"


async def test_an_unreachable_redis_costs_hits_never_correctness(
    settings: Settings, site: Site
) -> None:
    unreachable = {"redis_url": "redis://127.0.0.1:9/0", "rate_limit": 0}
    async with (
        client_of_app_with(settings, **unreachable) as one,
        client_of_app_with(settings, **unreachable) as two,
    ):
        for client in (one, two):
            assert _cache(await _get(client, PAGE, {"slug": "a1"})) == "miss"
            assert _cache(await _get(client, PAGE, {"slug": "a1"})) == "hit"
        await _update_title(one, site)
        for client in (two, one):
            renamed = await _get(client, PAGE, {"slug": "a1"})
            assert (renamed.status_code, _cache(renamed)) == (200, "miss")
            assert renamed.json()["data"]["article"]["title"] == "a1 renamed harbour"


async def test_hits_waiting_at_once_share_one_read_of_the_log(
    client: httpx.AsyncClient, site: Site, statements: StatementCounter
) -> None:
    await _get(client, PAGE, {"slug": "a1"})
    statements.reset()
    hits = await asyncio.gather(*(_get(client, PAGE, {"slug": "a1"}) for _ in range(20)))
    assert [_cache(hit) for hit in hits] == ["hit"] * 20
    # The first read, and the one that the hits arriving while it ran share.
    assert 1 <= statements.count <= 3, statements.statements
    assert all("cache_invalidations" in statement for statement in statements.statements)


async def test_a_write_elsewhere_costs_one_more_read_then_none(
    client: httpx.AsyncClient, site: Site, statements: StatementCounter
) -> None:
    await _get(client, PAGE, {"slug": "a1"})
    await _create_tag(client, site)  # a new tag: nothing a1's page shows
    statements.reset()
    assert _cache(await _get(client, PAGE, {"slug": "a1"})) == "hit"
    # The log moved on: its number, then the page's tags, found untouched.
    assert statements.count == 2
    statements.reset()
    assert _cache(await _get(client, PAGE, {"slug": "a1"})) == "hit"
    # Stamped anew: the number alone again.
    assert statements.count == 1
    await _update_title(client, site)  # a1's own title
    assert _cache(await _get(client, PAGE, {"slug": "a1"})) == "miss"


def _scope(query_string: bytes, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "query_string": query_string, "headers": list(headers)}


def test_remembered_request_keys_are_the_keys_and_stay_bounded() -> None:
    keys = RequestKeys(size=3)
    query = str(httpx.QueryParams({"query": HOME})).encode()
    asked = [
        _scope(query),
        _scope(query, (b"accept-encoding", b"gzip")),
        # The first of a repeated header decides, as it does for compression and GraphQL.
        _scope(query, (b"accept-encoding", b"identity"), (b"accept-encoding", b"gzip")),
        _scope(query, (b"accept", b"application/graphql-response+json")),
        _scope(b"query=" + b"x" * 2_000),  # too long to remember: computed each time
        _scope(b"operationName=nothing"),  # no document: not kept
    ]
    for _ in range(2):
        for scope in asked:
            assert keys(scope) == request_key(scope)
    assert len({keys(scope) for scope in asked[:4]}) == 3
    assert keys(asked[1]) != keys(asked[2]) == keys(asked[0])
    assert keys(asked[5]) is None
    assert len(keys) == 3
