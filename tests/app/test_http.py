"""HTTP behaviour of /graphql (GraphQL over HTTP), GraphiQL and the health endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from masthead.app import create_app
from masthead.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


def _vary(response: httpx.Response) -> set[str]:
    return {name.strip() for name in response.headers.get("vary", "").split(",")}


CATEGORIES = "{ categories { slug } }"


async def test_queries_over_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": CATEGORIES})
    assert response.status_code == 200
    assert response.json()["data"] == {"categories": []}
    assert "errors" not in response.json()
    assert {"Accept", "Authorization"} <= _vary(response)


async def test_mutations_over_get_are_405(client: httpx.AsyncClient) -> None:
    mutation = 'mutation { deleteTag(id: "x") { deletedId } }'
    response = await client.get("/graphql", params={"query": mutation})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_token_answers_are_private(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/graphql", json={"query": CATEGORIES}, headers={"authorization": "Bearer not-a-token"}
    )
    assert refused.status_code == 200
    assert refused.headers["cache-control"] == "private, no-store"
    assert {"Accept", "Authorization"} <= _vary(refused)
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A POST is never cached either (tests/app/test_http_caching.py has the whole rule).
    anonymous = await client.post("/graphql", json={"query": CATEGORIES})
    assert anonymous.headers["cache-control"] == "private, no-store"


async def test_graphiql_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphql_response_media_type(client: httpx.AsyncClient) -> None:
    ok = await client.post(
        "/graphql", json={"query": CATEGORIES}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    invalid = await client.post(
        "/graphql", json={"query": "{ nope }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["message"].startswith("Cannot query field 'nope'")
    bad_input = await client.post(
        "/graphql",
        json={"query": "{ articles(first: 500) { totalCount } }"},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert bad_input.status_code == 400
    assert bad_input.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    refused = await client.post(
        "/graphql",
        json={"query": CATEGORIES},
        headers={"accept": GRAPHQL_RESPONSE, "authorization": "Bearer not-a-token"},
    )
    assert refused.status_code == 401


async def test_plain_json_keeps_200_for_graphql_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


async def test_readyz_is_503_without_a_database() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none",
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings init kwarg
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/readyz")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.parametrize(
    "body",
    [b"null", b"42", b'"query"', b"[]", b"[1, 2]", b'{"query": "\xff\xfe"}', b"[" * 40_000],
    ids=["null", "number", "string", "empty batch", "batch of numbers", "not UTF-8", "deep"],
)
async def test_bodies_that_are_not_graphql_requests_are_400_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_body_over_the_cap_is_413_json_with_or_without_a_length(
    client: httpx.AsyncClient,
) -> None:
    query = json.dumps({"query": "{ tags { totalCount } }" + " " * 100_000}).encode()
    sized = await client.post(
        "/graphql", content=query, headers={"content-type": "application/json"}
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(query), 4096):
            yield query[start : start + 4096]

    chunked = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    for response in (sized, chunked):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "content-length" not in chunked.request.headers


async def test_batches_up_to_ten_operations(client: httpx.AsyncClient) -> None:
    operation = {"query": CATEGORIES}
    answers = (await client.post("/graphql", json=[operation, operation])).json()
    assert [answer["data"] for answer in answers] == [{"categories": []}] * 2
    assert all(answer["extensions"]["cost"]["requestedQueryCost"] == 20 for answer in answers)
    assert len((await client.post("/graphql", json=[operation] * 10)).json()) == 10
    refused = await client.post("/graphql", json=[operation] * 11)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "Too many operations"


async def test_other_methods_are_405_json(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": CATEGORIES})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_cors_answers_preflights_without_credentials(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/graphql",
        headers={
            "origin": "https://news.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in preflight.headers
    answer = await client.post(
        "/graphql", json={"query": CATEGORIES}, headers={"origin": "https://news.example"}
    )
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_cors_origins_can_be_listed(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": "https://a.example"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        request = {"access-control-request-method": "POST"}
        allowed = await client.options(
            "/graphql", headers={"origin": "https://a.example", **request}
        )
        refused = await client.options(
            "/graphql", headers={"origin": "https://b.example", **request}
        )
    await app.state.engine.dispose()
    assert allowed.headers["access-control-allow-origin"] == "https://a.example"
    assert refused.status_code == 400


async def test_answers_over_a_kilobyte_are_compressed(client: httpx.AsyncClient) -> None:
    small = await client.post(
        "/graphql", json={"query": CATEGORIES}, headers={"accept-encoding": "gzip"}
    )
    assert "content-encoding" not in small.headers
    large = await client.post(
        "/graphql",
        json={"query": "{ __schema { types { name description } } }"},
        headers={"accept-encoding": "gzip"},
    )
    assert large.headers["content-encoding"] == "gzip"
    assert large.json()["data"]["__schema"]["types"]  # httpx inflates it
    assert "Accept-Encoding" in large.headers["vary"]
