"""Caps on query depth, aliases and size, and switching introspection off."""

from __future__ import annotations

import httpx
from graphql import get_introspection_query
from starlette.applications import Starlette

from masthead.app import create_app
from masthead.settings import Settings
from tests.support.graphql import data, graphql
from tests.support.statements import StatementCounter


def _nested(parents: int) -> str:
    """``article > category > parent x n > name``: depth n + 2 below the root field."""
    return (
        '{ article(slug: "x") { category '
        + "{ parent " * parents
        + "{ name }"
        + " }" * parents
        + " } }"
    )


DEEP_ENOUGH = _nested(10)  # depth 12, the default cap
TOO_DEEP = _nested(11)


async def test_a_query_over_the_depth_cap_is_refused_before_any_sql(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    await data(client, DEEP_ENOUGH)
    statements.reset()
    body = await graphql(client, TOO_DEEP)
    assert body["errors"][0]["message"].startswith("'anonymous' exceeds maximum operation depth")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert statements.count == 0


async def test_too_many_aliases_are_refused(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    query = "{ " + " ".join(f"a{i}: categories {{ slug }}" for i in range(31)) + " }"
    statements.reset()
    body = await graphql(client, query)
    assert "aliases found. Allowed: 30" in body["errors"][0]["message"]
    assert statements.count == 0
    allowed = "{ " + " ".join(f"a{i}: categories {{ slug }}" for i in range(30)) + " }"
    assert len(await data(client, allowed)) == 30


async def test_too_many_tokens_are_refused(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    body = await graphql(client, query)
    assert "more than 5000 tokens" in body["errors"][0]["message"]


async def test_graphiqls_introspection_query_passes_the_caps(client: httpx.AsyncClient) -> None:
    schema = (await data(client, get_introspection_query()))["__schema"]
    assert schema["queryType"]["name"] == "Query"


async def test_introspection_can_be_switched_off(settings: Settings) -> None:
    app: Starlette = create_app(settings.model_copy(update={"introspection": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = await graphql(client, "{ __schema { queryType { name } } }")
        assert "introspection" in body["errors"][0]["message"].lower()
        assert (await data(client, "{ categories { slug } }")) == {"categories": []}
    await app.state.engine.dispose()
