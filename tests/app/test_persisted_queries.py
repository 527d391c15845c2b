"""Automatic persisted queries (Apollo's protocol) over GET and POST, in process and in Redis."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.persisted_queries import InProcessQueries, RedisQueries, query_hash
from masthead.settings import Settings
from tests.support.apps import client_of_app_with
from tests.support.factories import make_author
from tests.support.graphql import error_codes

REDIS_URL = "redis://127.0.0.1:6379/0"
GRAPHQL_RESPONSE = "application/graphql-response+json"
AUTHORS = "query Authors($first: Int) { authors(first: $first) { nodes { slug } } }"
TAGS = "{ tags { totalCount } }"
MUTATION = 'mutation { deleteTag(id: "VGFnOjE") { deletedId } }'


def _extensions(document: str, **persisted: Any) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": query_hash(document), **persisted}}


async def _get(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    """A GET of the hash alone, as Apollo's link sends it."""
    params = {"extensions": json.dumps(_extensions(document))}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return await client.get("/graphql", params=params, headers=headers)


async def _post(
    client: httpx.AsyncClient, document: str | None, extensions: dict[str, Any], **headers: str
) -> httpx.Response:
    body: dict[str, Any] = {"extensions": extensions, "variables": {"first": 5}}
    if document is not None:
        body["query"] = document
    return await client.post("/graphql", json=body, headers=headers)


NOT_FOUND = {
    "message": "PersistedQueryNotFound",
    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
}


def _not_found(response: httpx.Response) -> bool:
    """Apollo's answer to an unknown hash: 200, that error alone, no ``data``."""
    return response.status_code == 200 and response.json() == {"errors": [NOT_FOUND]}


async def test_an_unknown_hash_is_persisted_query_not_found_as_apollo_answers_it(
    client: httpx.AsyncClient,
) -> None:
    # Over GET with curl's default Accept: JSON (never GraphiQL's page), 200, never cached.
    for response in (
        await _get(client, AUTHORS, accept="*/*"),
        await _get(client, AUTHORS, accept=GRAPHQL_RESPONSE),
        await _post(client, None, _extensions(AUTHORS)),
        await _post(client, None, _extensions(AUTHORS), accept=GRAPHQL_RESPONSE),
    ):
        assert _not_found(response), response.text
        assert response.headers["cache-control"] == "private, no-store"
        assert "etag" not in response.headers


async def test_a_document_with_its_hash_registers_it_for_get_and_post(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    author = await make_author(sessionmaker)
    registered = await _post(client, AUTHORS, _extensions(AUTHORS))
    expected = {"authors": {"nodes": [{"slug": author.slug}]}}
    assert registered.status_code == 200
    assert registered.json()["data"] == expected
    by_get = await _get(client, AUTHORS, {"first": 5}, accept="*/*")
    assert by_get.status_code == 200
    assert by_get.json()["data"] == expected
    by_post = await _post(client, None, _extensions(AUTHORS))
    assert by_post.json()["data"] == expected
    # The same document sent in full again runs as well (and is registered already).
    assert (await _post(client, AUTHORS, _extensions(AUTHORS))).json()["data"] == expected


async def test_a_batch_may_mix_hashes_and_documents(client: httpx.AsyncClient) -> None:
    await _post(client, TAGS, _extensions(TAGS))
    answers = (
        await client.post(
            "/graphql",
            json=[
                {"extensions": _extensions(TAGS)},
                {"query": AUTHORS, "extensions": _extensions(AUTHORS)},
                {"extensions": _extensions("{ categories { slug } }")},
            ],
        )
    ).json()
    assert answers[0]["data"] == {"tags": {"totalCount": 0}}
    assert answers[1]["data"] == {"authors": {"nodes": []}}
    assert answers[2]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "persisted",
    [
        {"sha256Hash": query_hash(TAGS)},  # another document's hash
        {"version": 2},
        {"version": True},
        {"sha256Hash": query_hash(AUTHORS).upper()},
        {"sha256Hash": "abc"},
        {"sha256Hash": 42},
    ],
    ids=["mismatch", "version 2", "version true", "upper case", "short", "number"],
)
async def test_a_bad_persisted_query_is_refused_with_a_code(
    client: httpx.AsyncClient, persisted: dict[str, Any]
) -> None:
    extensions = _extensions(AUTHORS, **persisted)
    plain = await _post(client, AUTHORS, extensions)
    assert plain.status_code == 200
    assert "data" not in plain.json()
    assert error_codes(plain.json()) == ["BAD_USER_INPUT"]
    strict = await _post(client, AUTHORS, extensions, accept=GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    assert error_codes(strict.json()) == ["BAD_USER_INPUT"]
    # Nothing was registered under the hash.
    assert _not_found(await _post(client, None, _extensions(AUTHORS)))


@pytest.mark.parametrize("extensions", ["{not json", "[]", '"text"'])
async def test_extensions_that_are_not_an_object_are_a_bad_request(
    client: httpx.AsyncClient, extensions: str
) -> None:
    response = await client.get("/graphql", params={"extensions": extensions})
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_persisted_query_that_is_not_an_object_is_refused(client: httpx.AsyncClient) -> None:
    response = await _post(client, AUTHORS, {"persistedQuery": "yes"})
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    # null is no persisted query at all: the document runs.
    assert "errors" not in (await _post(client, AUTHORS, {"persistedQuery": None})).json()


async def test_documents_that_cannot_run_are_not_registered(client: httpx.AsyncClient) -> None:
    invalid = "{ nope }"
    over_the_alias_cap = "{ " + " ".join(f"a{n}: tags {{ totalCount }}" for n in range(40)) + " }"
    for document in (invalid, over_the_alias_cap):
        answer = await _post(client, document, _extensions(document))
        assert error_codes(answer.json()) == ["GRAPHQL_VALIDATION_FAILED"]
        assert _not_found(await _post(client, None, _extensions(document)))


async def test_a_persisted_mutation_runs_over_post_never_over_get(
    client: httpx.AsyncClient,
) -> None:
    # Without a token the mutation is refused, but it validated, so it is registered.
    assert error_codes((await _post(client, MUTATION, _extensions(MUTATION))).json()) == [
        "UNAUTHENTICATED"
    ]
    refused = await _get(client, MUTATION)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert error_codes(refused.json()) == ["METHOD_NOT_ALLOWED"]
    assert error_codes((await _post(client, None, _extensions(MUTATION))).json()) == [
        "UNAUTHENTICATED"
    ]


async def test_graphiql_only_for_a_browser_asking_for_no_operation(
    client: httpx.AsyncClient,
) -> None:
    browser = "text/html,application/xhtml+xml,*/*;q=0.8"
    page = await client.get("/graphql", headers={"accept": browser})
    assert page.headers["content-type"].startswith("text/html")
    for response in (
        await client.get("/graphql", headers={"accept": "*/*"}),
        await _get(client, TAGS, accept=browser),
    ):
        assert response.headers["content-type"].startswith("application/json"), response.text
        assert response.json()["errors"][0]["extensions"]["code"] in (
            "BAD_REQUEST",
            "PERSISTED_QUERY_NOT_FOUND",
        )


async def test_the_store_keeps_the_least_recently_used_documents(settings: Settings) -> None:
    documents = [f"{{ tags(first: {n}) {{ totalCount }} }}" for n in range(1, 4)]
    async with client_of_app_with(settings, persisted_queries_max=2) as client:
        for document in documents[:2]:
            await _post(client, document, _extensions(document))
        # Used just now: the first is kept when the third comes, the second is dropped.
        assert "errors" not in (await _post(client, None, _extensions(documents[0]))).json()
        await _post(client, documents[2], _extensions(documents[2]))
        assert "errors" not in (await _post(client, None, _extensions(documents[0]))).json()
        assert _not_found(await _post(client, None, _extensions(documents[1])))
        assert "errors" not in (await _post(client, None, _extensions(documents[2]))).json()


async def test_the_in_process_store_is_bounded() -> None:
    store = InProcessQueries(max_documents=3)
    for n in range(10):
        await store.keep(f"{n:064x}", f"{{ n{n} }}")
    assert len(store) == 3
    assert await store.find(f"{0:064x}") is None
    assert await store.find(f"{9:064x}") == "{ n9 }"


@pytest.fixture
def redis_settings(settings: Settings) -> Callable[..., Settings]:
    namespace = f"masthead-test-{uuid.uuid4().hex[:8]}"

    def shared(**values: object) -> Settings:
        return settings.model_copy(
            update={"redis_url": REDIS_URL, "redis_namespace": namespace, **values}
        )

    return shared


async def test_processes_share_the_documents_in_redis(
    redis_settings: Callable[..., Settings],
) -> None:
    # Two apps, as two processes would be: what one registers, the other runs.
    settings = redis_settings()
    store = RedisQueries(REDIS_URL, namespace=settings.redis_namespace, max_documents=1)
    try:
        async with client_of_app_with(settings) as one, client_of_app_with(settings) as two:
            assert _not_found(await _get(two, TAGS))
            await _post(one, TAGS, _extensions(TAGS))
            answer = await _get(two, TAGS)
            assert answer.json()["data"] == {"tags": {"totalCount": 0}}
        assert await store.find(query_hash(TAGS)) == TAGS
    finally:
        await _forget(store)


async def _forget(store: RedisQueries) -> None:
    """Remove what the store's namespace holds in Redis, and close it."""
    async with redis.asyncio.Redis.from_url(REDIS_URL) as connection:
        await connection.delete(*store.keys)
    await store.close()


async def test_redis_keeps_the_least_recently_used_documents(
    redis_settings: Callable[..., Settings],
) -> None:
    namespace = redis_settings().redis_namespace
    store = RedisQueries(REDIS_URL, namespace=namespace, max_documents=2)
    try:
        hashes = [f"{n:064x}" for n in range(3)]
        await store.keep(hashes[0], "{ a }")
        await store.keep(hashes[1], "{ b }")
        # Another process (with nothing of its own yet) uses the first: it is kept.
        other = RedisQueries(REDIS_URL, namespace=namespace, max_documents=2)
        assert await other.find(hashes[0]) == "{ a }"
        await store.keep(hashes[2], "{ c }")
        fresh = RedisQueries(REDIS_URL, namespace=namespace, max_documents=2)
        assert [await fresh.find(sha256) for sha256 in hashes] == ["{ a }", None, "{ c }"]
        await other.close()
        await fresh.close()
    finally:
        await _forget(store)


async def test_an_unreachable_redis_degrades_to_each_process_alone(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = {"redis_url": "redis://127.0.0.1:9/0", "rate_limit": 0}
    with caplog.at_level(logging.WARNING, logger="masthead.persisted_queries"):
        async with (
            client_of_app_with(settings, **unreachable) as one,
            client_of_app_with(settings, **unreachable) as two,
        ):
            # Registered in the process that got the document, and run there by hash.
            await _post(one, TAGS, _extensions(TAGS))
            assert (await _get(one, TAGS)).json()["data"] == {"tags": {"totalCount": 0}}
            # The other never saw it: not found, never a 5xx; the client's retry registers it.
            assert _not_found(await _get(two, TAGS))
            await _post(two, TAGS, _extensions(TAGS))
            assert (await _get(two, TAGS)).json()["data"] == {"tags": {"totalCount": 0}}
    assert "Redis not reached" in caplog.text
