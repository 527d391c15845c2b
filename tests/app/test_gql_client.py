"""gql, the Python GraphQL client, against a live uvicorn serving Masthead: it fetches the
schema by introspection, checks the reference operations against it on its side, runs
them and a mutation with an API token, and shows the server's message when refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME
from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.live_server import LiveServer, live_server

CREATE_TAG = """
mutation CreateTag($name: String!) {
  createTag(input: { name: $name }) { tag { name slug } errors { code message } }
}
"""


@asynccontextmanager
async def _session(
    server: LiveServer, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncClientSession]:
    transport = HTTPXAsyncTransport(url=f"{server.url}/graphql", headers=headers or {})
    client = Client(transport=transport, fetch_schema_from_transport=True)
    async with client as session:
        yield session


async def test_gql_runs_the_reference_operations_and_a_mutation(settings: Settings) -> None:
    async with live_server(settings) as server:
        sessionmaker = server.app.state.sessionmaker
        author = await make_author(sessionmaker, name="Ana Ferreira")
        category = await make_category(sessionmaker, name="Economy", slug="economy")
        tag = await make_tag(sessionmaker, name="Trade")
        await make_article(
            sessionmaker, author=author, category=category, tags=[tag], slug="trade-pacts"
        )
        editor_token = await bearer(sessionmaker, Role.EDITOR)
        admin_token = await bearer(sessionmaker, Role.ADMIN)

        async with _session(server) as reader:
            article: dict[str, Any] = await reader.execute(
                GraphQLRequest(ARTICLE_PAGE, variable_values={"slug": "trade-pacts"})
            )
            home: dict[str, Any] = await reader.execute(GraphQLRequest(HOME))
            page: dict[str, Any] = await reader.execute(
                GraphQLRequest(CATEGORY_PAGE, variable_values={"slug": "economy"})
            )
            # The client validates against the schema it fetched: a typo never leaves it.
            with pytest.raises(Exception, match="Cannot query field 'titel'"):
                await reader.execute(GraphQLRequest("{ articles(first: 1) { titel } }"))
        async with _session(server, editor_token) as editor:
            # Refused by the server: gql raises with the server's message and code.
            with pytest.raises(TransportQueryError) as refused:
                await editor.execute(GraphQLRequest(CREATE_TAG, variable_values={"name": "Ed"}))
        async with _session(server, admin_token) as admin:
            created: dict[str, Any] = await admin.execute(
                GraphQLRequest(CREATE_TAG, variable_values={"name": "Persisted"})
            )

    assert article["article"]["slug"] == "trade-pacts"
    assert article["article"]["author"]["name"] == "Ana Ferreira"
    assert article["article"]["tags"] == [{"name": "Trade", "slug": tag.slug}]
    edges = home["articles"]["edges"]
    assert [edge["node"]["slug"] for edge in edges] == ["trade-pacts"]
    assert page["category"]["name"] == "Economy"
    assert [e["node"]["slug"] for e in page["category"]["articles"]["edges"]] == ["trade-pacts"]

    errors = refused.value.errors or []
    assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]
    assert "Only admin tokens may create tags." in str(refused.value)
    assert created["createTag"] == {"tag": {"name": "Persisted", "slug": "persisted"}, "errors": []}
